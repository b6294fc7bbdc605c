// The probe protocol (/shoal/probe/1.0.0): a direct probe answered with the peer's wall clock and incarnation, and
// an indirect probe: "probe that member for me".
import { lpStream } from '@libp2p/utils'
import { z } from 'zod'
import { ProbeProtocolError } from '../errors.js'
import type { Mesh, Stream } from '../mesh/index.js'
import { PEER_ID_PATTERN } from '../state/index.js'
import { PROBE_PROTOCOL } from './constants.js'

/** Probe frames are a few dozen bytes. */
const MAX_PROBE_FRAME_BYTES = 1024
/** An indirect probe never asks a helper to wait longer than this. */
const MAX_INDIRECT_TIMEOUT_MS = 10_000

const requestSchema = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('ping') }),
  z.strictObject({
    t: z.literal('ping-req'),
    target: z.string().regex(PEER_ID_PATTERN),
    timeoutMs: z.number().int().min(1).max(MAX_INDIRECT_TIMEOUT_MS),
  }),
])
type ProbeRequest = z.infer<typeof requestSchema>

const ackSchema = z.strictObject({
  t: z.literal('ack'),
  /** The answering node's wall clock (ms since the epoch): a clock sample. */
  w: z.number().int().nonnegative(),
  /** Its incarnation. */
  i: z.number().int().nonnegative(),
})
const indirectSchema = z.strictObject({ t: z.enum(['ack', 'nack']) })

/** What a direct probe learns: the peer answered, its clock, its incarnation, the round trip. */
export interface ProbeAck {
  wall: number
  incarnation: number
  rttMs: number
  /** Our wall clock when we sent the probe. */
  sentAt: number
}

export interface ProbeServer {
  /** This node's wall clock, for acks. */
  wallNow(): number
  /** This node's incarnation, for acks. */
  incarnation(): number
  /** Probes `target` directly for an asker; resolves true if it answered in time. */
  probeFor(target: string, timeoutMs: number): Promise<boolean>
}

/** Answers probes from other members. */
export async function serveProbes(mesh: Pick<Mesh, 'handle'>, server: ProbeServer): Promise<void> {
  await mesh.handle(
    PROBE_PROTOCOL,
    async (stream: Stream) => {
      const frames = new ProbeFrames(stream)
      const request = requestSchema.safeParse(await frames.read())
      if (!request.success) throw new ProbeProtocolError('malformed probe request')
      await frames.write(await reply(request.data, server))
      await stream.close()
    },
    // Every member probes about one peer a second, and asks a few for indirect probes when one fails.
    { maxInboundStreams: 16 },
  )
}

async function reply(request: ProbeRequest, server: ProbeServer): Promise<unknown> {
  if (request.t === 'ping') return { t: 'ack', w: Math.round(server.wallNow()), i: server.incarnation() }
  return { t: (await server.probeFor(request.target, request.timeoutMs)) ? 'ack' : 'nack' }
}

/** Probes a member directly; throws if it does not answer before `signal` aborts. */
export async function probeDirect(
  mesh: Pick<Mesh, 'openStream'>,
  peer: string,
  signal: AbortSignal,
  wallNow: () => number = Date.now,
): Promise<ProbeAck> {
  const sentAt = wallNow()
  const started = performance.now()
  const stream = await mesh.openStream(peer, PROBE_PROTOCOL, { signal })
  try {
    const frames = new ProbeFrames(stream)
    await frames.write({ t: 'ping' }, signal)
    const ack = ackSchema.safeParse(await frames.read(signal))
    if (!ack.success) throw new ProbeProtocolError(`${peer} answered a probe with a malformed ack`)
    return { wall: ack.data.w, incarnation: ack.data.i, rttMs: performance.now() - started, sentAt }
  } finally {
    if (stream.status === 'open')
      await stream.close().catch(() => stream.abort(new ProbeProtocolError('probe done')))
  }
}

/** Asks `helper` to probe `target`; resolves true if the helper reached it, false if not (or the helper failed). */
export async function probeIndirect(
  mesh: Pick<Mesh, 'openStream'>,
  helper: string,
  target: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<boolean> {
  const stream = await mesh.openStream(helper, PROBE_PROTOCOL, { signal })
  try {
    const frames = new ProbeFrames(stream)
    await frames.write(
      { t: 'ping-req', target, timeoutMs: Math.min(MAX_INDIRECT_TIMEOUT_MS, Math.ceil(timeoutMs)) },
      signal,
    )
    const answer = indirectSchema.safeParse(await frames.read(signal))
    if (!answer.success)
      throw new ProbeProtocolError(`${helper} answered an indirect probe with a malformed frame`)
    return answer.data.t === 'ack'
  } finally {
    if (stream.status === 'open')
      await stream.close().catch(() => stream.abort(new ProbeProtocolError('probe done')))
  }
}

class ProbeFrames {
  private readonly lp
  private readonly encoder = new TextEncoder()
  private readonly decoder = new TextDecoder()

  constructor(stream: Stream) {
    this.lp = lpStream(stream, { maxDataLength: MAX_PROBE_FRAME_BYTES })
  }

  async write(frame: unknown, signal?: AbortSignal): Promise<void> {
    await this.lp.write(this.encoder.encode(JSON.stringify(frame)), { signal })
  }

  async read(signal?: AbortSignal): Promise<unknown> {
    const bytes = await this.lp.read({ signal })
    try {
      return JSON.parse(this.decoder.decode(bytes.subarray()))
    } catch (err) {
      throw new ProbeProtocolError('a probe frame is not JSON', { cause: err })
    }
  }
}
