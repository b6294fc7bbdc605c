import { describe, expect, it } from 'vitest'
import { resolveDaemonConfig } from '../../src/daemon/config.js'

const code = (fn: () => unknown): string | undefined => {
  try {
    fn()
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}

describe('the local API flags', () => {
  it('defaults to no extra names and 64 event streams', () => {
    const { api } = resolveDaemonConfig({ name: 'n1' }, {})
    expect(api).toMatchObject({ httpNames: [], maxEventClients: 64 })
  })

  it('takes repeated --http-name and a --max-event-clients', () => {
    const { api } = resolveDaemonConfig(
      { name: 'n1', httpName: ['shoal.lan', '192.0.2.7', '::1'], maxEventClients: '3' },
      {},
    )
    expect(api).toMatchObject({ httpNames: ['shoal.lan', '192.0.2.7', '::1'], maxEventClients: 3 })
  })

  it.each([
    [{ httpName: ['http://shoal.lan'] }],
    [{ httpName: ['shoal.lan:7421'] }],
    [{ httpName: ['evil@shoal.lan'] }],
    [{ httpName: [''] }],
    [{ maxEventClients: '0' }],
    [{ maxEventClients: '-1' }],
    [{ maxEventClients: '1.5' }],
    [{ maxEventClients: '1e3' }],
    [{ maxEventClients: '100001' }],
  ])('refuses %j with SHOAL_INVALID_FLAG', (flags) => {
    expect(code(() => resolveDaemonConfig({ name: 'n', ...flags }, {}))).toBe('SHOAL_INVALID_FLAG')
  })
})
