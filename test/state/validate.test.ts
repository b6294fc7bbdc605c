import { beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { MAX_HLC_COUNTER } from '../../src/state/constants.js'
import { KindRegistry } from '../../src/state/kinds.js'
import { RecordVerifier } from '../../src/state/signer.js'
import { type ValidationContext, validateRecord } from '../../src/state/validate.js'
import { encodeRecord, toWire } from '../../src/state/wire.js'
import { newIdentity, type TestIdentity } from '../helpers/keys.js'

let alice: TestIdentity
let bob: TestIdentity
const kinds = new KindRegistry([
  { name: 'node', schema: z.object({ name: z.string() }), writer: 'key-owner' },
  { name: 'test', schema: z.unknown(), writer: 'any' },
  { name: 'lease', schema: z.unknown(), writer: 'any', termed: true },
])

const NOW = 1_800_000_000_000

function ctx(overrides: Partial<ValidationContext> = {}): ValidationContext {
  return {
    kinds,
    verifier: new RecordVerifier(),
    now: NOW,
    maxSkewMs: 10_000,
    tombstoneTtlMs: 60_000,
    ...overrides,
  }
}

function wireFrom(who: TestIdentity, key: string, value: unknown, wall = NOW, extra = {}) {
  return toWire(encodeRecord(who.signer, key, value, { wall, counter: 0, node: who.peerId }, extra))
}

function reasonOf(input: unknown, context = ctx()): string {
  const result = validateRecord(input, context)
  return result.ok ? 'ok' : result.reason
}

beforeAll(async () => {
  alice = await newIdentity()
  bob = await newIdentity()
})

describe('validateRecord', () => {
  it('accepts a well-formed, signed record and decodes it', () => {
    const result = validateRecord(wireFrom(alice, `node/${alice.peerId}`, { name: 'a' }), ctx())
    expect(result.ok).toBe(true)
    if (result.ok)
      expect(result.record).toMatchObject({
        key: `node/${alice.peerId}`,
        value: { name: 'a' },
        origin: alice.peerId,
      })
  })

  it('refuses a node record written by another peer (writer rule)', () => {
    expect(reasonOf(wireFrom(bob, `node/${alice.peerId}`, { name: 'forged' }))).toBe('writer')
  })

  it('refuses a gossiped record whose origin is not the message signer', () => {
    const wire = wireFrom(alice, 'test/x', 1)
    expect(reasonOf(wire, ctx({ gossipSigner: bob.peerId }))).toBe('writer')
    expect(reasonOf(wire, ctx({ gossipSigner: alice.peerId }))).toBe('ok')
  })

  it('refuses a record whose signature does not match its body', () => {
    const wire = wireFrom(alice, 'test/x', 1)
    const tampered = { ...wire, b: wire.b.replace('"v":1', '"v":2') }
    expect(reasonOf(tampered)).toBe('signature')
    const stolen = { ...wire, s: wireFrom(bob, 'test/x', 1).s }
    expect(reasonOf(stolen)).toBe('signature')
  })

  it('refuses unknown record kinds', () => {
    expect(reasonOf(wireFrom(alice, 'mystery/x', 1))).toBe('unknown-kind')
  })

  it('refuses values that do not match their kind', () => {
    expect(reasonOf(wireFrom(alice, `node/${alice.peerId}`, { name: 42 }))).toBe('schema')
  })

  it('refuses stamps further ahead of our clock than the skew bound, and accepts ones within it', () => {
    expect(reasonOf(wireFrom(alice, 'test/x', 1, NOW + 10 * 60_000))).toBe('skew')
    expect(reasonOf(wireFrom(alice, 'test/x', 1, NOW + 9_000))).toBe('ok')
  })

  it('refuses a counter past 2^32 − 1 or a term past its stamp’s wall time as range', () => {
    const at = (counter: number, term = 0) =>
      toWire(encodeRecord(alice.signer, 'lease/x', 1, { wall: NOW, counter, node: alice.peerId }, { term }))
    expect(reasonOf(at(Number.MAX_SAFE_INTEGER))).toBe('range')
    expect(reasonOf(at(MAX_HLC_COUNTER + 1))).toBe('range')
    expect(reasonOf(at(MAX_HLC_COUNTER))).toBe('ok')
    expect(reasonOf(at(0, Number.MAX_SAFE_INTEGER))).toBe('range')
    expect(reasonOf(at(0, NOW + 1))).toBe('range')
    expect(reasonOf(at(0, NOW))).toBe('ok')
  })

  it('refuses a term on a record whose kind has none, tombstones included (it would outrank every later write)', () => {
    expect(reasonOf(wireFrom(alice, 'test/x', 1, NOW, { term: 5 }))).toBe('schema')
    expect(reasonOf(wireFrom(alice, 'test/x', null, NOW, { term: 5, deleted: true }))).toBe('schema')
    expect(reasonOf(wireFrom(alice, 'lease/x', 1, NOW, { term: 5 }))).toBe('ok')
  })

  it('refuses tombstones older than their lifetime', () => {
    expect(reasonOf(wireFrom(alice, 'test/x', null, NOW - 120_000, { deleted: true }))).toBe(
      'stale-tombstone',
    )
    expect(reasonOf(wireFrom(alice, 'test/x', null, NOW - 1_000, { deleted: true }))).toBe('ok')
  })

  it.each([
    ['not an object', 'hello'],
    ['missing signature', { b: '{}' }],
    ['extra fields', { b: '{}', s: `${'A'.repeat(86)}==`, x: 1 }],
    ['bad signature encoding', { b: '{}', s: 'short' }],
  ])('refuses a malformed wire record (%s) as schema', (_, input) => {
    expect(reasonOf(input)).toBe('schema')
  })

  it('refuses a body that is not JSON as decode', () => {
    expect(reasonOf({ b: '{not json', s: `${'A'.repeat(86)}==` })).toBe('decode')
  })

  it('refuses a body over 64 KiB as oversize', () => {
    expect(reasonOf({ b: 'x'.repeat(70_000), s: `${'A'.repeat(86)}==` })).toBe('oversize')
  })

  it('refuses keys with path tricks or no kind', () => {
    for (const key of ['test', 'test/', 'Test/x', 'test/x y', 'test/\u0000']) {
      const body = JSON.stringify({ k: key, v: 1, w: NOW, c: 0, o: alice.peerId })
      expect(reasonOf({ b: body, s: alice.signer.sign(body) })).toBe('schema')
    }
  })

  it('refuses a tombstone that carries a value', () => {
    const body = JSON.stringify({ k: 'test/x', v: 1, w: NOW, c: 0, o: alice.peerId, d: 1 })
    expect(reasonOf({ b: body, s: alice.signer.sign(body) })).toBe('schema')
  })
})
