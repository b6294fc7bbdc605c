// The probe protocol (/shoal/probe/1.0.0): on one long-lived stream per prober and peer, a direct probe answered with
// the peer's wall clock and incarnation, and an indirect probe: "probe that member for me".
import { lpStream } from '@libp2p/utils'
import type { Logger } from 'pino'
import { z } from 'zod'
import { ProbeProtocolError } from '../errors.js'
import type { Mesh, Stream } from '../mesh/index.js'
import { PEER_ID_PATTERN } from '../state/index.js'
import { PROBE_DIAL_TIMEOUT_MS, PROBE_PROTOCOL } from './constants.js'

/** Probe frames are a few dozen bytes. */
const MAX_PROBE_FRAME_BYTES = 1024
/** An indirect probe never asks a helper to wait longer than this. */
const MAX_INDIRECT_TIMEOUT_MS = 10_000
/** Requests one asker may have outstanding on its stream; more are refused (a peer flooding probes). */
const MAX_OUTSTANDING_REQUESTS = 16

const seq = z.number().int().nonnegative()
const requestSchema = z.discriminatedUnion('t', [
  z.strictObject({ n: seq, t: z.literal('ping') }),
  z.strictObject({
    n: seq,
    t: z.literal('ping-req'),
    target: z.string().regex(PEER_ID_PATTERN),
    timeoutMs: z.number().int().min(1).max(MAX_INDIRECT_TIMEOUT_MS),
  }),
])
type ProbeRequest = z.infer<typeof requestSchema>

const responseSchema = z.discriminatedUnion('t', [
  z.strictObject({
    n: seq,
    t: z.literal('ack'),
    /** The answering node's wall clock (ms since the epoch): a clock sample. */
    w: z.number().int().nonnegative().optional(),
    /** Its incarnation. */
    i: z.number().int().nonnegative().optional(),
  }),
  z.strictObject({ n: seq, t: z.literal('nack') }),
])
type ProbeResponse = z.infer<typeof responseSchema>

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

/** Answers probes from other members: each asker keeps one stream open and sends its requests on it. */
export async function serveProbes(mesh: Pick<Mesh, 'handle'>, server: ProbeServer): Promise<void> {
  await mesh.handle(
    PROBE_PROTOCOL,
    async (stream: Stream) => {
      const frames = new ProbeFrames(stream)
      let outstanding = 0
      for (;;) {
        const input = await frames.read()
        if (input === undefined) return
        const request = requestSchema.safeParse(input)
        if (!request.success) throw new ProbeProtocolError('malformed probe request')
        if (outstanding >= MAX_OUTSTANDING_REQUESTS)
          throw new ProbeProtocolError('too many probe requests at once')
        outstanding++
        // Answered as they complete: an indirect probe takes up to its timeout, a ping none.
        void reply(request.data, server)
          .then((response) => frames.write(response))
          .catch((err: Error) => stream.abort(err))
          .finally(() => {
            outstanding--
          })
      }
    },
    // One stream per asker per connection; a reconnect may briefly overlap the old one.
    { maxInboundStreams: 4 },
  )
}

async function reply(request: ProbeRequest, server: ProbeServer): Promise<ProbeResponse> {
  if (request.t === 'ping')
    return { n: request.n, t: 'ack', w: Math.round(server.wallNow()), i: server.incarnation() }
  return { n: request.n, t: (await server.probeFor(request.target, request.timeoutMs)) ? 'ack' : 'nack' }
}

interface Pending {
  resolve(response: ProbeResponse): void
  reject(err: Error): void
}

/** This node's probe streams, one per member it probes, opened on first use and dropped when they fail. */
export class ProbeChannels {
  private readonly channels = new Map<string, Promise<ProbeChannel>>()

  constructor(
    private readonly mesh: Pick<Mesh, 'openStream' | 'isConnected' | 'connect'>,
    private readonly log: Logger,
  ) {}

  /**
   * Probes a member directly; throws if it does not answer within `timeoutMs`. A member this node has no
   * connection to is dialled first (`connect`), within PROBE_DIAL_TIMEOUT_MS: the handshake is not its answer.
   */
  async ping(peer: string, timeoutMs: number, wallNow: () => number): Promise<ProbeAck> {
    const channel = await this.channel(peer, timeoutMs)
    const sentAt = wallNow()
    const started = performance.now()
    const response = await channel.request({ t: 'ping' }, timeoutMs)
    if (response.t !== 'ack' || response.w === undefined || response.i === undefined) {
      throw new ProbeProtocolError(`${peer} answered a probe with a malformed ack`)
    }
    return { wall: response.w, incarnation: response.i, rttMs: performance.now() - started, sentAt }
  }

  /** Asks `helper` to probe `target`; resolves true if the helper reached it. */
  async pingRequest(helper: string, target: string, timeoutMs: number): Promise<boolean> {
    const channel = await this.channel(helper, timeoutMs)
    const asked = Math.min(MAX_INDIRECT_TIMEOUT_MS, Math.ceil(timeoutMs))
    const response = await channel.request({ t: 'ping-req', target, timeoutMs: asked }, asked * 2)
    return response.t === 'ack'
  }

  /** Dials a member this node has no connection to (within PROBE_DIAL_TIMEOUT_MS). */
  async connect(peer: string): Promise<void> {
    if (!this.mesh.isConnected(peer))
      await this.mesh.connect(peer, { signal: AbortSignal.timeout(PROBE_DIAL_TIMEOUT_MS) })
  }

  closeAll(): void {
    for (const channel of this.channels.values())
      void channel.then(
        (open) => open.close(),
        () => undefined,
      )
    this.channels.clear()
  }

  private channel(peer: string, timeoutMs: number): Promise<ProbeChannel> {
    let channel = this.channels.get(peer)
    if (channel === undefined) {
      channel = this.mesh
        .openStream(peer, PROBE_PROTOCOL, { signal: AbortSignal.timeout(timeoutMs) })
        .then((stream) => new ProbeChannel(stream, () => this.channels.delete(peer), this.log))
      this.channels.set(peer, channel)
      // A stream that failed to open is not kept: the next probe opens another.
      channel.catch(() => {
        if (this.channels.get(peer) === channel) this.channels.delete(peer)
      })
    }
    return channel
  }
}

/** One long-lived probe stream to one member: requests numbered, answers matched by number. */
class ProbeChannel {
  private readonly frames: ProbeFrames
  private readonly pending = new Map<number, Pending>()
  private next = 0
  private closed = false

  constructor(
    private readonly stream: Stream,
    private readonly onClose: () => void,
    private readonly log: Logger,
  ) {
    this.frames = new ProbeFrames(stream)
    void this.readLoop()
  }

  /** Sends a request; resolves with its answer, or rejects after `timeoutMs` (a late answer is then ignored). */
  request(
    frame: { t: 'ping' } | { t: 'ping-req'; target: string; timeoutMs: number },
    timeoutMs: number,
  ): Promise<ProbeResponse> {
    if (this.closed) return Promise.reject(new ProbeProtocolError('the probe stream is closed'))
    const n = this.next++
    return new Promise<ProbeResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(n)
        reject(new DOMException('The probe went unanswered', 'TimeoutError'))
      }, timeoutMs)
      this.pending.set(n, {
        resolve: (response) => {
          clearTimeout(timer)
          resolve(response)
        },
        reject: (err) => {
          clearTimeout(timer)
          reject(err)
        },
      })
      this.frames.write({ n, ...frame }).catch((err: Error) => this.fail(err))
    })
  }

  close(): void {
    this.fail(new ProbeProtocolError('probing stopped'))
    void this.stream.close().catch(() => this.stream.abort(new ProbeProtocolError('probing stopped')))
  }

  private async readLoop(): Promise<void> {
    try {
      for (;;) {
        const input = await this.frames.read()
        if (input === undefined) throw new ProbeProtocolError('the member closed its probe stream')
        const response = responseSchema.safeParse(input)
        if (!response.success)
          throw new ProbeProtocolError('a member answered a probe with a malformed frame')
        const pending = this.pending.get(response.data.n)
        this.pending.delete(response.data.n)
        pending?.resolve(response.data)
      }
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'probe stream ended')
      this.fail(err as Error)
      if (this.stream.status === 'open') this.stream.abort(err as Error)
    }
  }

  private fail(err: Error): void {
    if (this.closed) return
    this.closed = true
    this.onClose()
    for (const pending of this.pending.values()) pending.reject(err)
    this.pending.clear()
  }
}

class ProbeFrames {
  private readonly lp
  private readonly encoder = new TextEncoder()
  private readonly decoder = new TextDecoder()
  /** Writes go out one at a time (answers complete in any order). */
  private writing: Promise<void> = Promise.resolve()

  constructor(stream: Stream) {
    this.lp = lpStream(stream, { maxDataLength: MAX_PROBE_FRAME_BYTES })
  }

  write(frame: unknown): Promise<void> {
    const bytes = this.encoder.encode(JSON.stringify(frame))
    this.writing = this.writing.then(() => this.lp.write(bytes))
    return this.writing
  }

  /** The next frame, or undefined at the end of the stream. */
  async read(): Promise<unknown> {
    let bytes: { subarray(): Uint8Array }
    try {
      bytes = await this.lp.read()
    } catch (err) {
      // The other end closed the stream between frames: the end, not an error.
      if ((err as Error).name === 'UnexpectedEOFError') return undefined
      throw err
    }
    try {
      return JSON.parse(this.decoder.decode(bytes.subarray()))
    } catch (err) {
      throw new ProbeProtocolError('a probe frame is not JSON', { cause: err })
    }
  }
}
