// The bytes of one gossip message: a JSON batch of wire records, deflated when it is big enough to gain.
import { promisify } from 'node:util'
import { deflateRaw, inflateRawSync } from 'node:zlib'
import { z } from 'zod'
import { GOSSIP_DEFLATE_MIN_BYTES, MAX_GOSSIP_MESSAGE_BYTES } from './constants.js'
import type { DropReason } from './validate.js'

const deflate = promisify(deflateRaw)

/**
 * First byte of a deflated message. A plain message is JSON and starts with `{`; anything else is refused.
 * Job specs in a batch repeat the same field names and defaults: a batch of 600 deflates ~7× (level 1 costs
 * ~2 ms per 430 KB here), and every copy a node sends or receives is encrypted twice (pnet, Noise).
 */
export const DEFLATED_MARKER = 0x01
const JSON_MARKER = 0x7b

/** Zlib level 1: on record batches it compresses as well as level 6 at a fraction of the CPU. */
const DEFLATE_LEVEL = 1

const envelopeSchema = z.strictObject({ v: z.literal(1), r: z.array(z.unknown()).min(1).max(100_000) })
export type Envelope = z.infer<typeof envelopeSchema>

/** Encodes already-serialised wire records as one message; deflated off the event loop when large. */
export async function encodeEnvelope(wires: readonly string[]): Promise<Uint8Array> {
  const json = Buffer.from(`{"v":1,"r":[${wires.join(',')}]}`)
  if (json.length < GOSSIP_DEFLATE_MIN_BYTES) return json
  const deflated = await deflate(json, { level: DEFLATE_LEVEL })
  const message = Buffer.allocUnsafe(deflated.length + 1)
  message[0] = DEFLATED_MARKER
  deflated.copy(message, 1)
  return message
}

/** Decodes a received message, refusing anything over the size bound before or after inflating it. */
export function decodeEnvelope(data: Uint8Array): Envelope | DropReason {
  if (data.length > MAX_GOSSIP_MESSAGE_BYTES) return 'oversize'
  let json: unknown
  try {
    json = JSON.parse(textOf(data))
  } catch (err) {
    // inflateRawSync throws a RangeError once its output would pass the bound: a zip bomb.
    return err instanceof RangeError ? 'oversize' : 'decode'
  }
  const parsed = envelopeSchema.safeParse(json)
  return parsed.success ? parsed.data : 'schema'
}

function textOf(data: Uint8Array): string {
  if (data[0] === JSON_MARKER) return Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8')
  if (data[0] !== DEFLATED_MARKER) throw new SyntaxError('not a shoal gossip message')
  const body = Buffer.from(data.buffer, data.byteOffset + 1, data.length - 1)
  return inflateRawSync(body, { maxOutputLength: MAX_GOSSIP_MESSAGE_BYTES }).toString('utf8')
}
