// Generated gossip messages and sync rounds against a real node: no crash, no invalid record taken, state unchanged.
import { deflateRawSync } from 'node:zlib'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_CLOCK_SKEW_MS, MAX_HLC_COUNTER, TOMBSTONE_TTL_MS } from '../../src/state/constants.js'
import { DEFLATED_MARKER } from '../../src/state/envelope.js'
import { DROP_REASONS } from '../../src/state/index.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { newIdentity, type TestIdentity } from '../helpers/keys.js'
import { metric } from '../helpers/metrics.js'
import { type RoguePeer, type SyncItem, startRogueAgainst } from '../helpers/rogue-peer.js'
import { waitFor } from '../helpers/wait.js'

const GOSSIP_CASES = 10_000
const SYNC_CASES = 1_000

/**
 * Every generated record carries at least one of these defects, so none may be taken. `origin` (signed by
 * another member, published by the rogue) is a defect on gossip only: sync relays others' records.
 */
const DEFECTS = [
  'signature',
  'origin',
  'counter',
  'term',
  'skew',
  'unknown-kind',
  'extra-field',
  'field-type',
  'tombstone-value',
  'stale-tombstone',
  'shape',
] as const
type Defect = (typeof DEFECTS)[number]

interface Actors {
  rogue: TestIdentity
  other: TestIdentity
  victim: string
  kinds: string[]
}

/** A wire record (`{ b, s }`) with at least one defect. */
function defectiveRecord(actors: Actors, defects: readonly Defect[]): fc.Arbitrary<unknown> {
  const { rogue, other, victim, kinds } = actors
  // Real kinds whose value schema is an object with required fields: none of the values below fits any of them.
  const strictKinds = kinds.filter((kind) => kind !== 'test' && kind !== 'work')
  const subject = fc.oneof(
    fc.constantFrom(rogue.peerId, other.peerId, victim, 'coordinator'),
    fc.stringMatching(/^[A-Za-z0-9._:@=+\-/]{1,40}$/),
  )
  const value = fc.oneof(
    fc.constant(null),
    fc.anything({ maxDepth: 3, maxKeys: 5 }),
    fc.jsonValue({ maxDepth: 3 }),
  )
  return fc
    .record({
      defect: fc.constantFrom(...defects),
      kind: fc.constantFrom(...kinds),
      strictKind: fc.constantFrom(...strictKinds),
      subject,
      value,
      wall: fc.integer({ min: Date.now() - 60_000, max: Date.now() }),
      counter: fc.integer({ min: 0, max: MAX_HLC_COUNTER }),
      term: fc.integer({ min: 0, max: 1_000 }),
      deleted: fc.boolean(),
      bad: fc.oneof(
        fc.integer({ min: MAX_HLC_COUNTER + 1, max: Number.MAX_SAFE_INTEGER }),
        fc.constantFrom(Number.MAX_SAFE_INTEGER, 2 ** 53, -1, 0.5),
      ),
      // Never undefined: JSON would leave the field out, and the defect with it.
      noise: fc.jsonValue({ maxDepth: 2 }),
      unknownKind: fc.stringMatching(/^[a-z][a-z0-9-]{0,31}$/).filter((kind) => !kinds.includes(kind)),
      skewMs: fc.integer({ min: MAX_CLOCK_SKEW_MS + 60_000, max: 365 * 24 * 3_600_000 }),
    })
    .map((c) => {
      let signer = rogue
      const body: Record<string, unknown> = {
        k: `${c.kind}/${c.subject}`,
        v: c.deleted ? null : c.value,
        w: c.wall,
        c: c.counter,
        o: rogue.peerId,
      }
      if (c.deleted) body.d = 1
      if (c.term > 0) body.e = c.term
      let sig: string | undefined
      switch (c.defect) {
        case 'signature':
          sig = other.signer.sign(JSON.stringify(body))
          break
        case 'origin':
          signer = other
          body.o = other.peerId
          break
        case 'counter':
          body.c = c.bad
          break
        case 'term':
          body.e = Math.max(c.wall + 1, c.bad)
          break
        case 'skew':
          body.w = Date.now() + c.skewMs
          break
        case 'unknown-kind':
          body.k = `${c.unknownKind}/${c.subject}`
          break
        case 'extra-field':
          body.x = c.noise
          break
        case 'field-type':
          body.w = String(c.wall)
          break
        case 'tombstone-value':
          body.d = 1
          body.v = c.value ?? 'not null'
          break
        case 'stale-tombstone':
          body.d = 1
          body.v = null
          body.w = Date.now() - TOMBSTONE_TTL_MS - 60_000
          break
        case 'shape':
          body.k = `${c.strictKind}/${c.subject}`
          body.v = [null, 'x', 1, [], {}][c.counter % 5]
          delete body.d
          break
      }
      const text = JSON.stringify(body)
      return { b: text, s: sig ?? signer.signer.sign(text) }
    })
}

/** One gossip message: an envelope of defective records (plain or deflated), or bytes that are no envelope. */
function gossipMessage(actors: Actors): fc.Arbitrary<Uint8Array> {
  const records = fc.array(defectiveRecord(actors, DEFECTS), { minLength: 1, maxLength: 3 })
  const text = (s: string) => new TextEncoder().encode(s)
  const deflate = (bytes: Uint8Array) => new Uint8Array([DEFLATED_MARKER, ...deflateRawSync(bytes)])
  return fc.oneof(
    { weight: 6, arbitrary: records.map((r) => text(JSON.stringify({ v: 1, r }))) },
    { weight: 2, arbitrary: records.map((r) => deflate(text(JSON.stringify({ v: 1, r })))) },
    {
      weight: 1,
      arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => text(JSON.stringify(value) ?? 'null')),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({ v: fc.anything({ maxDepth: 1 }), r: fc.anything({ maxDepth: 2 }) })
        .map((e) => text(JSON.stringify(e) ?? '{}')),
    },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 200 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 200 }).map(deflate) },
  )
}

/** One sync round as the initiator would send it: frames of the protocol with hostile content, or garbage. */
function syncRound(actors: Actors): fc.Arbitrary<SyncItem[]> {
  const syncDefects = DEFECTS.filter((defect) => defect !== 'origin')
  const key = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.constantFrom(`node/${actors.victim}`, 'lease/coordinator'),
  )
  const frame: fc.Arbitrary<SyncItem> = fc.oneof(
    fc.record({ t: fc.constant('digest'), d: fc.oneof(fc.string(), fc.base64String({ maxLength: 6000 })) }),
    fc.record({ t: fc.constant('want'), k: fc.array(key, { maxLength: 20 }) }),
    fc.record({
      t: fc.constant('records'),
      r: fc.array(defectiveRecord(actors, syncDefects), { maxLength: 5 }),
    }),
    fc.record({
      t: fc.constant('entries'),
      e: fc.array(fc.tuple(key, fc.tuple(fc.nat(), fc.integer(), fc.integer(), fc.string())), {
        maxLength: 5,
      }),
    }),
    fc.record({
      t: fc.constant('entries-end'),
      b: fc.array(fc.integer({ min: -5, max: 300 }), { maxLength: 5 }),
    }),
    fc.constantFrom({ t: 'push-end' }, { t: 'end' }, { t: 'error', code: 'SHOAL_X', m: 'x' }),
    fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'null'),
    fc.string({ maxLength: 100 }),
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((raw) => ({ raw })),
  )
  return fc.oneof(
    // Shaped like a real round, so that the later steps are reached too.
    fc
      .tuple(frame, fc.array(frame, { maxLength: 3 }))
      .map(([middle, more]) => [{ t: 'digest', d: '' }, middle, ...more, { t: 'push-end' }]),
    fc.array(frame, { minLength: 1, maxLength: 4 }),
  )
}

describe('generated hostile input against a real node', () => {
  let victim: TestNode
  let rogue: RoguePeer
  let actors: Actors
  let before: Map<string, string>

  beforeAll(async () => {
    // One peer sends all the cases: gossipsub's penalty would soon have the victim ignore it (flood.test.ts
    // proves the penalty), and every case is to reach the validator.
    victim = await startNode({ name: 'victim', tuning: { mesh: { penaliseInvalidGossip: false } } })
    rogue = await startRogueAgainst(victim)
    actors = {
      rogue: rogue.identity,
      other: await newIdentity(),
      victim: victim.daemon.peerId,
      kinds: victim.daemon.state.kinds.names(),
    }
    await waitFor('the victim to be coordinator', () => victim.daemon.coordinator.isHolder())
    before = snapshot(victim)
  })
  afterAll(async () => {
    await rogue?.stop()
    await destroyNodes([victim].filter(Boolean))
  })

  /** Every record the victim holds, by key: its signed body. */
  function snapshot(node: TestNode): Map<string, string> {
    return new Map([...node.daemon.state.all()].map((record) => [record.key, record.body]))
  }

  /** What the victim holds now that it did not hold before, other than its own writes. */
  function changedByOthers(): string[] {
    const now = snapshot(victim)
    const changed = [...now].filter(
      ([key, body]) =>
        before.get(key) !== body && victim.daemon.state.get(key)?.origin !== victim.daemon.peerId,
    )
    const gone = [...before.keys()].filter((key) => !now.has(key))
    return [...changed.map(([key]) => key), ...gone]
  }

  it(`judges ${GOSSIP_CASES} generated gossip messages without crashing or taking a record`, async () => {
    const judged = async () => {
      let total = await metric(victim, 'shoal_gossip_messages_in_total')
      for (const reason of DROP_REASONS)
        total += await metric(victim, 'shoal_gossip_messages_dropped_total', { reason })
      return total
    }
    const judgedBefore = await judged()
    await fc.assert(
      fc.asyncProperty(gossipMessage(actors), async (data) => {
        await rogue.publish(data)
      }),
      { numRuns: GOSSIP_CASES },
    )
    await waitFor('every message to be judged', async () => (await judged()) - judgedBefore >= GOSSIP_CASES, {
      timeoutMs: 60_000,
    })
    expect(await metric(victim, 'shoal_gossip_messages_in_total')).toBe(0)
    expect(changedByOthers()).toEqual([])
    expect((await fetch(`${victim.daemon.api.httpUrl}/v1/status`)).status).toBe(200)
  })

  it(`answers ${SYNC_CASES} generated sync rounds with an end or a SHOAL_SYNC_* error, taking nothing`, async () => {
    await fc.assert(
      fc.asyncProperty(syncRound(actors), async (frames) => {
        const answer = await rogue.sync(frames)
        const last = answer.frames.at(-1)
        const ok =
          last?.t === 'end' ||
          (last?.t === 'error' && /^SHOAL_SYNC_(PROTOCOL|LIMIT)$/.test(String(last.code)))
        if (!ok) throw new Error(`round ended with ${JSON.stringify(last)} (${answer.ended})`)
      }),
      { numRuns: SYNC_CASES },
    )
    expect(changedByOthers()).toEqual([])
    expect((await fetch(`${victim.daemon.api.httpUrl}/v1/status`)).status).toBe(200)
  })
})
