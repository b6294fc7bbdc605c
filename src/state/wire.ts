// Wire and storage formats of records (zod-validated at the edge), and encoding of local writes.
import { z } from 'zod'
import { MAX_HLC_COUNTER, MAX_RECORD_BYTES, MAX_TERMS_PER_MS } from './constants.js'
import type { Stamp } from './hlc.js'
import type { StateRecord } from './record.js'
import type { RecordSigner } from './signer.js'

/** Ed25519 peer ids in their usual base58 form. Other key types are not shoal peers. */
export const PEER_ID_PATTERN = /^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/

/** `<kind>/<subject>`: a lower-case kind, then up to 200 characters safe in URLs and file names. */
export const KEY_PATTERN = /^[a-z][a-z0-9-]{0,31}\/[A-Za-z0-9._:@=+\-/]{1,200}$/

/** A record as it travels and is stored: the signed JSON body and its signature. */
export const wireRecordSchema = z.strictObject({
  b: z.string().max(MAX_RECORD_BYTES),
  s: z.string().regex(/^[A-Za-z0-9+/]{86}==$/),
})
export type WireRecord = z.infer<typeof wireRecordSchema>

const uint = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)

/** The signed body: short field names because every heartbeat carries them. */
export const recordBodySchema = z.strictObject({
  k: z.string().regex(KEY_PATTERN),
  v: z.unknown(),
  w: uint,
  c: uint,
  o: z.string().regex(PEER_ID_PATTERN),
  d: z.literal(1).optional(),
  e: uint.optional(),
})
type RecordBody = z.infer<typeof recordBodySchema>

export function toWire(record: StateRecord): WireRecord {
  return { b: record.body, s: record.sig }
}

export interface EncodeOptions {
  deleted?: boolean
  term?: number
}

/** Builds and signs a local write. */
export function encodeRecord(
  signer: RecordSigner,
  key: string,
  value: unknown,
  stamp: Stamp,
  options: EncodeOptions = {},
): StateRecord {
  const deleted = options.deleted === true
  const term = options.term ?? 0
  const body: RecordBody = {
    k: key,
    v: deleted ? null : value,
    w: stamp.wall,
    c: stamp.counter,
    o: stamp.node,
  }
  if (deleted) body.d = 1
  if (term > 0) body.e = term
  const text = JSON.stringify(body)
  return {
    key,
    value: deleted ? null : value,
    stamp,
    origin: stamp.node,
    deleted,
    term,
    body: text,
    sig: signer.sign(text),
  }
}

/** `range`: a counter or term beyond what honest writers reach (see MAX_HLC_COUNTER, MAX_TERMS_PER_MS). */
export type DecodeFailure = 'schema' | 'decode' | 'oversize' | 'range'

/** The highest term a record stamped at `wall` may carry. */
export function termCeiling(wall: number): number {
  return Math.floor(wall * MAX_TERMS_PER_MS)
}

/** Parses a wire record into a StateRecord without judging it (kinds, writers, signatures come later). */
export function decodeWireRecord(input: unknown): StateRecord | DecodeFailure {
  if (
    typeof input === 'object' &&
    input !== null &&
    typeof (input as { b?: unknown }).b === 'string' &&
    (input as { b: string }).b.length > MAX_RECORD_BYTES
  ) {
    return 'oversize'
  }
  const wire = wireRecordSchema.safeParse(input)
  if (!wire.success) return 'schema'
  let json: unknown
  try {
    json = JSON.parse(wire.data.b)
  } catch {
    // A body from the network that is not JSON: dropped, and counted as a decode failure.
    return 'decode'
  }
  const body = recordBodySchema.safeParse(json)
  if (!body.success) return 'schema'
  const { k, v, w, c, o, d, e } = body.data
  const deleted = d === 1
  if (deleted && v !== null) return 'schema'
  if (c > MAX_HLC_COUNTER || (e ?? 0) > termCeiling(w)) return 'range'
  return {
    key: k,
    value: deleted ? null : v,
    stamp: { wall: w, counter: c, node: o },
    origin: o,
    deleted,
    term: e ?? 0,
    body: wire.data.b,
    sig: wire.data.s,
  }
}
