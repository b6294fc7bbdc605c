import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { canonicalHost, HostPolicy, isCrossOriginWrite, isLoopbackHost } from '../../src/api/host-policy.js'
import { ApiServer } from '../../src/api/server.js'
import { createRootLogger } from '../../src/logger.js'

const request = (method: string, headers: Record<string, string>): IncomingMessage =>
  ({ method, headers }) as unknown as IncomingMessage

describe('isLoopbackHost', () => {
  it.each([
    'localhost',
    'LocalHost',
    '127.0.0.1',
    '127.1.2.3',
    '::1',
    '[::1]',
    '0:0:0:0:0:0:0:1',
    '::ffff:127.0.0.1',
  ])('takes %s for loopback', (host) => expect(isLoopbackHost(host)).toBe(true))

  it.each([
    '127.0.0.1.example',
    '127.x.example',
    '127.evil.com',
    'localhost.evil.com',
    'localhost.',
    '127.0.0.1@evil.example',
    '0.0.0.0',
    '::',
    '192.0.2.1',
    '128.0.0.1',
    '',
    'local host',
  ])('does not take %s for loopback', (host) => expect(isLoopbackHost(host)).toBe(false))

  it('refuses an HTTP listener on a name that only looks like loopback without a token', () => {
    // Before, "127.x.example" counted as loopback: the daemon would have listened there with no token at all.
    const facts = { dataDir: '/nowhere', version: '0', name: 'n', startedAt: 0, swarmKeyFingerprint: '0' }
    const build = () =>
      new ApiServer({ logger: createRootLogger({ level: 'silent' }) } as never, {
        socketPath: '/nowhere/s',
        httpHost: '127.x.example',
        httpPort: 0,
        facts,
      })
    expect(build).toThrow(/token/)
  })
})

describe('canonicalHost', () => {
  it('writes hosts as a browser sends them', () => {
    expect(canonicalHost('Shoal.LAN')).toBe('shoal.lan')
    expect(canonicalHost('0:0:0:0:0:0:0:1')).toBe('[::1]')
    expect(canonicalHost('127.1')).toBe('127.0.0.1')
    expect(canonicalHost('x.127')).toBeUndefined()
    expect(canonicalHost('a/b')).toBeUndefined()
  })
})

describe('isCrossOriginWrite', () => {
  const host = '127.0.0.1:7421'
  it('lets reads through whatever their origin', () => {
    expect(isCrossOriginWrite(request('GET', { host, origin: 'http://evil.example' }))).toBe(false)
  })

  it('lets a write from the page itself, or from a tool that names no origin, through', () => {
    expect(isCrossOriginWrite(request('POST', { host, origin: `http://${host}` }))).toBe(false)
    expect(isCrossOriginWrite(request('POST', { host, 'sec-fetch-site': 'same-origin' }))).toBe(false)
    expect(isCrossOriginWrite(request('DELETE', { host }))).toBe(false)
  })

  it('refuses a write from another origin, another port, a sandbox or another site', () => {
    expect(isCrossOriginWrite(request('POST', { host, origin: 'http://evil.example' }))).toBe(true)
    expect(isCrossOriginWrite(request('POST', { host, origin: 'http://127.0.0.1:8080' }))).toBe(true)
    expect(isCrossOriginWrite(request('PUT', { host, origin: 'null' }))).toBe(true)
    expect(isCrossOriginWrite(request('PATCH', { host, 'sec-fetch-site': 'same-site' }))).toBe(true)
    expect(isCrossOriginWrite(request('DELETE', { host, 'sec-fetch-site': 'cross-site' }))).toBe(true)
  })
})

describe('HostPolicy', () => {
  const at = (host: string | undefined, localAddress: string): IncomingMessage =>
    ({ headers: host === undefined ? {} : { host }, socket: { localAddress } }) as unknown as IncomingMessage

  it('serves the address a client connected to, written as a browser writes it, on a wildcard listener', () => {
    const policy = new HostPolicy([], '0.0.0.0')
    expect(policy.allows(at('192.0.2.5:7421', '::ffff:192.0.2.5'))).toBe(true)
    expect(policy.allows(at('[2001:db8::1]:7421', '2001:db8:0:0:0:0:0:1'))).toBe(true)
    expect(policy.allows(at('192.0.2.6:7421', '::ffff:192.0.2.5'))).toBe(false)
    expect(policy.allows(at(undefined, '127.0.0.1'))).toBe(false)
  })

  it('serves the listen host and --http-name names, and takes a listen host that is no name without failing', () => {
    const policy = new HostPolicy(['shoal.lan'], 'box.lan')
    expect(policy.allows(at('BOX.lan:7421', '192.0.2.5'))).toBe(true)
    expect(policy.allows(at('shoal.lan', '192.0.2.5'))).toBe(true)
    expect(policy.allows(at('evil.lan', '192.0.2.5'))).toBe(false)
    expect(() => new HostPolicy([], 'my_host')).not.toThrow()
    expect(() => new HostPolicy(['http://x'], '127.0.0.1')).toThrow(TypeError)
  })
})
