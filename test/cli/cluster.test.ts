import { access, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NodeView, StatusView } from '../../src/api/types.js'
import {
  cleanupDaemons,
  cliJson,
  type DaemonProcess,
  joinArgs,
  runCli,
  signalDaemon,
  spawnDaemon,
} from '../helpers/processes.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const stateOf = async (observer: DaemonProcess, peerId: string): Promise<string | undefined> => {
  const nodes = await cliJson<NodeView[]>(observer.dataDir, 'node', 'list', '--all')
  return nodes.find((node) => node.id === peerId)?.state
}

describe('three shoal daemon processes joined by --bootstrap', () => {
  let a: DaemonProcess
  let b: DaemonProcess
  let c: DaemonProcess

  beforeAll(async () => {
    a = await spawnDaemon({ name: 'alpha', args: ['--label', 'zone=a'] })
    const join = joinArgs(a)
    ;[b, c] = await Promise.all([
      spawnDaemon({ name: 'beta', args: join }),
      spawnDaemon({ name: 'gamma', args: join }),
    ])
  })
  afterAll(cleanupDaemons)

  it('status --json has the documented fields', async () => {
    const status = await cliJson<StatusView>(a.dataDir, 'status')
    expect(status).toMatchObject({ name: 'alpha', dataDir: a.dataDir, version: expect.any(String) })
    expect(status.peerId).toMatch(/^12D3KooW/)
    expect(status.addresses.length).toBeGreaterThan(0)
    for (const addr of status.addresses) expect(addr).toMatch(new RegExp(`/p2p/${status.peerId}$`))
    expect(status.httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(typeof status.peers).toBe('number')
  })

  it('the CLI on each node lists the same three alive nodes', async () => {
    for (const proc of [a, b, c]) {
      const nodes = await waitFor(`${proc.name} to list three alive nodes`, async () => {
        const list = await cliJson<NodeView[]>(proc.dataDir, 'node', 'list')
        return list.length === 3 && list.every((node) => node.state === 'alive') ? list : undefined
      })
      expect(nodes.map((node) => node.name)).toEqual(['alpha', 'beta', 'gamma'])
      for (const node of nodes) {
        expect(node).toMatchObject({ id: expect.stringMatching(/^12D3KooW/), labels: expect.any(Object) })
        expect(Date.parse(node.lastSeen)).not.toBeNaN()
        expect(node.resources.cpus).toBeGreaterThan(0)
        expect(node.addresses.length).toBeGreaterThan(0)
      }
      expect(nodes.find((node) => node.name === 'alpha')?.labels).toEqual({ zone: 'a' })
    }
    // Once a coordinator is elected, the table marks it in the ROLE column.
    const human = await waitFor('the table to mark the coordinator', async () => {
      const result = await runCli(['node', 'list', '--data-dir', b.dataDir])
      return result.code === 0 && /\scoordinator\s/.test(result.stdout) ? result : undefined
    })
    expect(human.stdout).toMatch(/^NAME\s+ROLE\s+ID\s+STATE/)
    expect(human.stdout).toMatch(/beta \*/)
    expect(human.stdout.match(/\scoordinator\s/g)).toHaveLength(1)
  })

  it('node show finds a node by name, by peer id and by the tail of its id', async () => {
    const byName = await cliJson<NodeView>(a.dataDir, 'node', 'show', 'gamma')
    expect(byName.id).toBe(c.status.peerId)
    expect((await cliJson<NodeView>(a.dataDir, 'node', 'show', c.status.peerId)).name).toBe('gamma')
    expect((await cliJson<NodeView>(a.dataDir, 'node', 'show', c.status.peerId.slice(-6))).name).toBe('gamma')
    // gamma's load and free memory are asked of gamma (the usage protocol), and the table says so.
    expect(byName.usage).toBe('live')
    const human = await runCli(['node', 'show', 'gamma', '--data-dir', a.dataDir])
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toMatch(/^usage\s+asked now, sampled /m)
    const missing = await runCli(['node', 'show', 'nobody', '--data-dir', a.dataDir])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('SHOAL_NODE_NOT_FOUND')
  })

  it('kill -9 of one node turns it suspect, then dead, in every other view', async () => {
    const victim = c.status.peerId
    const seen = new Map<string, string[]>([
      [a.name, []],
      [b.name, []],
    ])
    await signalDaemon(c, 'SIGKILL')
    const killedAt = Date.now()
    await waitFor(
      'both survivors to see gamma dead',
      async () => {
        let allDead = true
        for (const observer of [a, b]) {
          const state = await stateOf(observer, victim)
          const states = seen.get(observer.name)!
          if (state !== undefined && states.at(-1) !== state) states.push(state)
          if (state !== 'dead') allDead = false
        }
        return allDead
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    )
    console.log(`kill -9 detected as dead by both survivors after ${Date.now() - killedAt} ms`)
    for (const states of seen.values()) {
      expect(states).toContain('suspect')
      expect(states.indexOf('suspect')).toBeLessThan(states.indexOf('dead'))
    }
    // Dead nodes leave the default listing but stay in --all.
    const listed = await cliJson<NodeView[]>(a.dataDir, 'node', 'list')
    expect(listed.map((node) => node.name)).toEqual(['alpha', 'beta'])
  })

  it('restarted on the same data directory, it is alive again with the same peer id', async () => {
    const peerId = c.status.peerId
    c = await spawnDaemon({
      name: 'gamma',
      dataDir: c.dataDir,
      args: joinArgs(a),
    })
    expect(c.status.peerId).toBe(peerId)
    for (const observer of [a, b]) {
      await waitFor(
        `${observer.name} to see gamma alive again`,
        async () => (await stateOf(observer, peerId)) === 'alive',
      )
    }
  })

  it('a clean stop (SIGTERM) exits 0, removes the socket, and shows left everywhere', async () => {
    const code = await signalDaemon(b, 'SIGTERM')
    expect(code).toBe(0)
    await expect(access(join(b.dataDir, 'shoal.sock'))).rejects.toThrow()
    for (const observer of [a, c]) {
      await waitFor(
        `${observer.name} to see beta left`,
        async () => (await stateOf(observer, b.status.peerId)) === 'left',
      )
    }
  })

  it('refuses a second daemon on a data directory in use, with a clear error', async () => {
    const second = await runCli([
      'daemon',
      '--data-dir',
      a.dataDir,
      '--no-mdns',
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--http-port',
      '0',
    ])
    expect(second.code).toBe(1)
    expect(second.stderr).toContain('SHOAL_DATA_DIR_IN_USE')
    expect(second.stderr).toContain(a.dataDir)
    expect((await cliJson<StatusView>(a.dataDir, 'status')).name).toBe('alpha')
  })
})

describe('the CLI and daemon on bad input', () => {
  let dir: string
  beforeAll(async () => {
    dir = await makeTempDir()
  })
  afterAll(async () => {
    await cleanupDaemons()
    await removeDir(dir)
  })

  it('with no daemon running, prints one line naming the data directory and exits 3', async () => {
    const empty = join(dir, 'nothing-here')
    for (const args of [['status'], ['node', 'list'], ['node', 'show', 'x']]) {
      const result = await runCli([...args, '--data-dir', empty])
      expect(result.code).toBe(3)
      expect(result.stdout).toBe('')
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(result.stderr).toContain(empty)
      expect(result.stderr).toContain('SHOAL_DAEMON_UNREACHABLE')
      expect(result.stderr).not.toMatch(/\n\s+at /)
    }
  })

  it('takes the data directory from SHOAL_DATA_DIR too', async () => {
    const result = await runCli(['status'], { env: { SHOAL_DATA_DIR: join(dir, 'from-env') } })
    expect(result.code).toBe(3)
    expect(result.stderr).toContain(join(dir, 'from-env'))
  })

  it.each([
    [['--label', 'novalue']],
    [['--http-port', 'eighty']],
    [['--listen', '127.0.0.1:7420']],
    [['--name', 'has spaces']],
    [['--log-level', 'chatty']],
    [['--job-retention', 'a while']],
    [['--log-format', 'fancy']],
    [['--drivers', 'docker,raw_exec']],
    [['--drivers', 'none,exec']],
    [['--job-log-max', 'lots']],
    [['--job-log-max', '0']],
  ])('refuses daemon flags %j with SHOAL_INVALID_FLAG and exit 2 (usage)', async (args) => {
    const result = await runCli(['daemon', '--data-dir', join(dir, 'bad-flags'), '--no-mdns', ...args])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('SHOAL_INVALID_FLAG')
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })

  it('refuses a missing or malformed swarm key with SHOAL_SWARM_KEY_INVALID', async () => {
    const bad = join(dir, 'bad.key')
    await writeFile(bad, 'not a key')
    for (const key of [bad, join(dir, 'missing.key')]) {
      const result = await runCli([
        'daemon',
        '--data-dir',
        join(dir, 'd1'),
        '--no-mdns',
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--http-port',
        '0',
        '--swarm-key',
        key,
      ])
      expect(result.code).toBe(1)
      expect(result.stderr).toContain('SHOAL_SWARM_KEY_INVALID')
      expect(result.stderr).toContain(key)
    }
  })

  it('refuses a data directory it cannot create with SHOAL_DATA_DIR_UNUSABLE', async () => {
    const file = join(dir, 'a-file')
    await writeFile(file, '')
    const result = await runCli(['daemon', '--data-dir', join(file, 'sub'), '--no-mdns', '--http-port', '0'])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('SHOAL_DATA_DIR_UNUSABLE')
  })
})
