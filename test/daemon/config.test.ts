import { describe, expect, it } from 'vitest'
import { DEFAULT_HTTP_PORT, resolveDaemonConfig } from '../../src/daemon/config.js'
import { resolveDataDir } from '../../src/daemon/data-dir.js'

const code = (fn: () => unknown): string | undefined => {
  try {
    fn()
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}

describe('resolveDataDir', () => {
  it('prefers the flag, then SHOAL_DATA_DIR, then the per-user data directory', () => {
    expect(resolveDataDir('/flag', { SHOAL_DATA_DIR: '/env' })).toBe('/flag')
    expect(resolveDataDir(undefined, { SHOAL_DATA_DIR: '/env' })).toBe('/env')
    expect(resolveDataDir(undefined, { HOME: '/home/u', XDG_DATA_HOME: '/xdg' })).toMatch(/shoal$/)
  })
})

describe('resolveDaemonConfig', () => {
  it('has sensible defaults: all interfaces on the fixed port, mDNS on, loopback HTTP', () => {
    const config = resolveDaemonConfig({ name: 'n1' }, { SHOAL_DATA_DIR: '/tmp/x' })
    expect(config).toMatchObject({
      dataDir: '/tmp/x',
      name: 'n1',
      logLevel: 'info',
      mesh: { listen: ['/ip4/0.0.0.0/tcp/7420'], bootstrap: [], mdns: true },
      membership: { labels: {} },
      coordinator: { eligible: true },
      api: { httpHost: '127.0.0.1', httpPort: DEFAULT_HTTP_PORT },
    })
  })

  it('takes repeated listen, bootstrap and label flags', () => {
    const config = resolveDaemonConfig(
      {
        name: 'n1',
        listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.2/tcp/0'],
        bootstrap: ['/ip4/192.0.2.1/tcp/7420', '/dns4/seed.example/tcp/7420'],
        label: ['zone=a', 'gpu=1'],
        mdns: false,
        httpPort: '0',
      },
      {},
    )
    expect(config.mesh.listen).toHaveLength(2)
    expect(config.mesh.bootstrap).toHaveLength(2)
    expect(config.membership.labels).toEqual({ zone: 'a', gpu: '1' })
    expect(config.mesh.mdns).toBe(false)
    expect(config.api.httpPort).toBe(0)
  })

  it('lets the /v2 mirror pull images only with --mirror-pull', () => {
    expect(resolveDaemonConfig({ name: 'n1' }, {}).layers.mirrorPull).toBe(false)
    expect(resolveDaemonConfig({ name: 'n1', mirrorPull: true }, {}).layers.mirrorPull).toBe(true)
  })

  it('declares GPUs with --gpus N or N:MODEL, and refuses anything else', () => {
    expect(resolveDaemonConfig({ name: 'n1' }, {}).membership.gpus).toBeUndefined()
    expect(resolveDaemonConfig({ name: 'n1', gpus: '2' }, {}).membership.gpus).toEqual({ count: 2 })
    expect(resolveDaemonConfig({ name: 'n1', gpus: '0' }, {}).membership.gpus).toEqual({ count: 0 })
    expect(resolveDaemonConfig({ name: 'n1', gpus: '2:NVIDIA A100-SXM4-80GB' }, {}).membership.gpus).toEqual({
      count: 2,
      model: 'NVIDIA A100-SXM4-80GB',
    })
    for (const bad of ['', 'two', '-1', '65', '2:', '1.5', `1:${'x'.repeat(129)}`, '1:tab\there']) {
      expect(
        code(() => resolveDaemonConfig({ name: 'n1', gpus: bad }, {})),
        bad,
      ).toBe('SHOAL_INVALID_FLAG')
    }
  })

  it('runs only docker jobs, isolated, unless told otherwise', () => {
    const defaults = resolveDaemonConfig({ name: 'n1' }, {}).jobs
    expect(defaults.policy).toEqual({ drivers: { docker: true, exec: false }, allowHostNetwork: false })
    expect(defaults.logMaxBytes).toBe(64 * 1024 ** 2)
    const open = resolveDaemonConfig(
      { name: 'n1', drivers: 'docker, exec', allowHostNetwork: true, jobLogMax: '1M' },
      {},
    ).jobs
    expect(open.policy).toEqual({ drivers: { docker: true, exec: true }, allowHostNetwork: true })
    expect(open.logMaxBytes).toBe(1024 ** 2)
    expect(resolveDaemonConfig({ name: 'n1', drivers: 'exec' }, {}).jobs.policy?.drivers).toEqual({
      docker: false,
      exec: true,
    })
    expect(resolveDaemonConfig({ name: 'n1', drivers: 'none' }, {}).jobs.policy?.drivers).toEqual({
      docker: false,
      exec: false,
    })
  })

  it.each([
    [{ drivers: 'raw_exec' }],
    [{ drivers: '' }],
    [{ drivers: 'none,docker' }],
    [{ jobLogMax: '0' }],
    [{ jobLogMax: 'big' }],
    [{ name: 'has space' }],
    [{ name: '' }],
    [{ logLevel: 'loud' }],
    [{ httpPort: '99999' }],
    [{ label: ['oops'] }],
    [{ listen: ['not-a-multiaddr'] }],
    [{ listen: ['/ip4/127.0.0.1/udp/1'] }],
    [{ bootstrap: ['192.0.2.1:7420'] }],
  ])('refuses bad flags %j with SHOAL_INVALID_FLAG', (flags) => {
    expect(code(() => resolveDaemonConfig({ name: 'n', ...flags }, {}))).toBe('SHOAL_INVALID_FLAG')
  })
})
