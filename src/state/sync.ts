// Anti-entropy over a stream protocol: compare bucket digests, list differing buckets, exchange what is newer.
import { setTimeout as sleep } from 'node:timers/promises'
import { lpStream } from '@libp2p/utils'
import type { Logger } from 'pino'
import { z } from 'zod'
import { ShoalError, SyncLimitError, SyncProtocolError } from '../errors.js'
import type { Mesh, Stream } from '../mesh/index.js'
import {
  CONNECT_SYNC_RETRIES,
  CONNECT_SYNC_RETRY_MS,
  DIGEST_BUCKETS,
  MAX_SYNC_ENTRIES,
  MAX_SYNC_FRAME_BYTES,
  RECORD_BATCH_BYTES,
  SYNC_INTERVAL_MS,
  SYNC_MAX_INBOUND_STREAMS,
  SYNC_PROTOCOL,
  SYNC_TIMEOUT_MS,
} from './constants.js'
import type { StateMetrics } from './metrics.js'
import { PeerWarnings, UNKNOWN_KIND_WARN_EVERY_MS, warnUnknownKind } from './peer-warnings.js'
import {
  compareRecords,
  compareVersions,
  kindOf,
  type StateRecord,
  type Version,
  versionOf,
} from './record.js'
import type { Replica } from './types.js'
import { judgeRecord } from './validate.js'
import { decodeWireRecord, toWire } from './wire.js'

/*
 * One round, started by the initiator (I) with a responder (R):
 *   I → R  digest        XOR-hash of every (key, version) per bucket
 *   R → I  entries…      (key, version) of R's records in buckets whose hash differs; then entries-end,
 *                        which names those buckets (some may hold nothing on R's side)
 *   I → R  records…      records R lacks or holds older; want… keys I lacks or holds older; then push-end
 *   R → I  records…      the wanted records; then end
 * Both sides judge received records like any from the network (signatures included) before merging.
 * A side that gives up on a round says why in an error frame (its SHOAL_* code) before it resets the stream.
 * Bounds: a frame is at most MAX_SYNC_FRAME_BYTES; a round lists, pushes or returns at most MAX_SYNC_ENTRIES
 * keys; the initiator may want only keys the responder listed, each once (SHOAL_SYNC_LIMIT past these).
 */

const versionSchema = z.tuple([
  z.number().int().nonnegative(),
  z.number().int(),
  z.number().int(),
  z.string(),
])
const frameSchema = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('digest'), d: z.string().max(8192) }),
  z.strictObject({ t: z.literal('entries'), e: z.array(z.tuple([z.string(), versionSchema])) }),
  z.strictObject({
    t: z.literal('entries-end'),
    b: z.array(
      z
        .number()
        .int()
        .min(0)
        .max(DIGEST_BUCKETS - 1),
    ),
  }),
  z.strictObject({ t: z.literal('records'), r: z.array(z.unknown()) }),
  z.strictObject({ t: z.literal('want'), k: z.array(z.string()) }),
  z.strictObject({ t: z.literal('push-end') }),
  z.strictObject({ t: z.literal('end') }),
  z.strictObject({ t: z.literal('error'), code: z.string().max(64), m: z.string().max(1024) }),
])
type Frame = z.infer<typeof frameSchema>
type Entry = [key: string, version: [number, number, number, string]]

/** Bytes of the varint prefix of the largest frame: a longer prefix is refused as soon as it is seen. */
const MAX_LENGTH_PREFIX_BYTES = Math.ceil(Math.log2(MAX_SYNC_FRAME_BYTES + 1) / 7)

/**
 * The unsigned varint before each frame. lpStream's own decoder reads on while a prefix does not end (one byte
 * at a time, for as long as the peer sends 0xff), so a peer could hold the stream open without ever sending a
 * frame; this one gives up once the prefix is longer than any allowed frame needs.
 */
function decodeFrameLength(data: { byteLength: number; get(index: number): number }): number {
  let length = 0
  for (let i = 0; i < data.byteLength; i++) {
    const byte = data.get(i)
    length += (byte & 0x7f) * 2 ** (7 * i)
    if ((byte & 0x80) === 0) return length
    if (i + 1 >= MAX_LENGTH_PREFIX_BYTES) throw frameTooLarge()
  }
  // Not all of the prefix has arrived: lpStream reads another byte on a RangeError.
  throw new RangeError('incomplete length prefix')
}

function frameTooLarge(cause?: unknown): SyncLimitError {
  return new SyncLimitError(`the peer sent a sync frame over ${MAX_SYNC_FRAME_BYTES} bytes`, { cause })
}

/** How long a side giving up a round waits to tell the peer why. */
const REFUSAL_WRITE_MS = 1_000

class FrameStream {
  private readonly lp
  private readonly encoder = new TextEncoder()
  private readonly decoder = new TextDecoder()

  constructor(
    readonly stream: Stream,
    private readonly signal: AbortSignal,
  ) {
    this.lp = lpStream(stream, { maxDataLength: MAX_SYNC_FRAME_BYTES, lengthDecoder: decodeFrameLength })
  }

  async write(frame: Frame): Promise<void> {
    await this.lp.write(this.encoder.encode(JSON.stringify(frame)), { signal: this.signal })
  }

  async read(): Promise<Frame> {
    let bytes: Awaited<ReturnType<typeof this.lp.read>>
    try {
      bytes = await this.lp.read({ signal: this.signal })
    } catch (err) {
      // A length prefix that does not parse or names a frame past the bound: the peer's fault, said as such.
      const name = (err as Error).name
      if (name === 'InvalidDataLengthError') throw frameTooLarge(err)
      if (name === 'InvalidMessageLengthError' || name === 'InvalidDataLengthLengthError')
        throw new SyncProtocolError('the peer sent a sync frame with a malformed length', { cause: err })
      if (name === 'UnexpectedEOFError')
        throw new SyncProtocolError('the peer closed the stream in the middle of a round', { cause: err })
      throw err
    }
    let json: unknown
    try {
      json = JSON.parse(this.decoder.decode(bytes.subarray()))
    } catch (err) {
      throw new SyncProtocolError('the peer sent a sync frame that is not JSON', { cause: err })
    }
    const frame = frameSchema.safeParse(json)
    if (!frame.success) throw new SyncProtocolError('malformed sync frame')
    if (frame.data.t === 'error')
      throw new SyncProtocolError(`the peer gave up the round (${frame.data.code}: ${frame.data.m})`)
    return frame.data
  }

  /** Tells the peer why this side gives up the round; best effort, the stream is reset right after. */
  async refuse(err: unknown): Promise<void> {
    if (!(err instanceof ShoalError)) return
    const signal = AbortSignal.any([this.signal, AbortSignal.timeout(REFUSAL_WRITE_MS)])
    const frame: Frame = { t: 'error', code: err.code, m: err.message.slice(0, 1024) }
    await this.lp.write(this.encoder.encode(JSON.stringify(frame)), { signal })
  }

  async expect<T extends Frame['t']>(type: T): Promise<Extract<Frame, { t: T }>> {
    const frame = await this.read()
    if (frame.t !== type) throw new SyncProtocolError(`expected a ${type} frame, got ${frame.t}`)
    return frame as Extract<Frame, { t: T }>
  }
}

export interface SyncServiceInit {
  /** @default SYNC_INTERVAL_MS */
  intervalMs?: number
}

export class SyncService {
  private timer: NodeJS.Timeout | undefined
  private readonly inFlight = new Map<string, Promise<void>>()
  private readonly intervalMs: number
  private readonly onConnect = (peer: string, direction: 'inbound' | 'outbound'): void => {
    // The side that dialled starts the round, so each new connection syncs once (again if that round fails).
    if (direction === 'outbound') void this.syncOnConnect(peer)
  }

  private readonly unknownKindWarnings: PeerWarnings

  private readonly refusalFailed = (err: Error): void => {
    // The peer may have gone or stopped reading: the reset that follows tells it enough.
    this.log.debug({ err: err.message }, 'could not tell the peer why the sync round ended')
  }

  constructor(
    private readonly mesh: Mesh,
    private readonly state: Replica,
    private readonly metrics: StateMetrics,
    private readonly log: Logger,
    init: SyncServiceInit = {},
  ) {
    this.intervalMs = init.intervalMs ?? SYNC_INTERVAL_MS
    this.unknownKindWarnings = new PeerWarnings(log, UNKNOWN_KIND_WARN_EVERY_MS)
  }

  async start(): Promise<void> {
    if (this.timer !== undefined) return
    await this.mesh.handle(SYNC_PROTOCOL, (stream, peer) => this.respond(stream, peer), {
      maxInboundStreams: SYNC_MAX_INBOUND_STREAMS,
    })
    this.mesh.on('peer:connect', this.onConnect)
    this.scheduleNext()
  }

  stop(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.mesh.off('peer:connect', this.onConnect)
  }

  private scheduleNext(): void {
    // ±20 % jitter keeps a cluster started at once from syncing in lockstep.
    const delay = this.intervalMs * (0.8 + Math.random() * 0.4)
    this.timer = setTimeout(() => {
      const peers = this.mesh.connectedPeers()
      const peer = peers[Math.floor(Math.random() * peers.length)]
      if (peer !== undefined) this.syncInBackground(peer)
      this.scheduleNext()
    }, delay)
    this.timer.unref()
  }

  /**
   * A new connection's round. Records written on the far side of a healed partition reach this side only by
   * sync (their gossip went nowhere), so a round that fails is tried again while the peer stays connected,
   * rather than leaving the repair to a periodic round with a random peer, SYNC_INTERVAL_MS away.
   */
  private async syncOnConnect(peer: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.syncWith(peer)
        return
      } catch (err) {
        this.log.debug(
          { peer, attempt, err: (err as Error).message },
          'sync round on a new connection failed',
        )
        if (attempt > CONNECT_SYNC_RETRIES) return
        await sleep(CONNECT_SYNC_RETRY_MS * attempt, undefined, { ref: false })
        if (this.timer === undefined || !this.mesh.isConnected(peer)) return
      }
    }
  }

  private syncInBackground(peer: string): void {
    this.syncWith(peer).catch((err: Error) => this.log.debug({ peer, err: err.message }, 'sync round failed'))
  }

  /** One round with `peer`; a round already running with that peer is joined rather than duplicated. */
  syncWith(peer: string): Promise<void> {
    const running = this.inFlight.get(peer)
    if (running !== undefined) return running
    const round = this.initiate(peer).finally(() => this.inFlight.delete(peer))
    this.inFlight.set(peer, round)
    return round
  }

  private async initiate(peer: string): Promise<void> {
    const signal = AbortSignal.timeout(SYNC_TIMEOUT_MS)
    let stream: Stream | undefined
    let frames: FrameStream | undefined
    try {
      stream = await this.mesh.openStream(peer, SYNC_PROTOCOL, { signal })
      frames = new FrameStream(stream, signal)
      await frames.write({ t: 'digest', d: this.state.digest.encode() })

      const theirs = new Map<string, Version>()
      let listed = 0
      let frame = await frames.read()
      for (; frame.t === 'entries'; frame = await frames.read()) {
        listed += frame.e.length
        if (listed > MAX_SYNC_ENTRIES)
          throw new SyncLimitError(`peer listed more than ${MAX_SYNC_ENTRIES} keys`)
        for (const [key, version] of frame.e) theirs.set(key, version)
      }
      if (frame.t !== 'entries-end') throw new SyncProtocolError(`expected entries, got ${frame.t}`)
      const differing = frame.b

      const push: string[] = []
      const want: string[] = []
      for (const [key, version] of theirs) {
        if (!this.state.kinds.has(kindOf(key))) continue
        const mine = this.state.get(key)
        if (mine === undefined || compareVersions(versionOf(mine), version) < 0) want.push(key)
      }
      for (const bucket of differing) {
        for (const key of this.state.keysInBucket(bucket)) {
          const mine = this.state.get(key)!
          const version = theirs.get(key)
          if (version === undefined || compareVersions(versionOf(mine), version) > 0) push.push(key)
        }
      }
      await this.sendRecords(frames, push)
      for (let i = 0; i < want.length; i += 10_000)
        await frames.write({ t: 'want', k: want.slice(i, i + 10_000) })
      await frames.write({ t: 'push-end' })

      let received = 0
      const budget = { records: Math.min(want.length, MAX_SYNC_ENTRIES) }
      const fenced: StateRecord[] = []
      for (let frame = await frames.read(); frame.t !== 'end'; frame = await frames.read()) {
        if (frame.t !== 'records') throw new SyncProtocolError(`expected records, got ${frame.t}`)
        received += await this.receiveRecords(frame.r, peer, budget, fenced)
      }
      received += await this.judgeAndMerge(fenced, peer)
      await stream.close({ signal })
      this.metrics.syncRounds.inc({ role: 'initiator', result: 'ok' })
      if (push.length + received > 0)
        this.log.debug({ peer, sent: push.length, received }, 'sync round repaired')
    } catch (err) {
      this.metrics.syncRounds.inc({ role: 'initiator', result: 'error' })
      await frames?.refuse(err).catch(this.refusalFailed)
      stream?.abort(err as Error)
      throw err
    }
  }

  private async respond(stream: Stream, peer: string): Promise<void> {
    const signal = AbortSignal.timeout(SYNC_TIMEOUT_MS)
    const frames = new FrameStream(stream, signal)
    try {
      const { d } = await frames.expect('digest')
      const differing = this.state.digest.differingBuckets(d)
      let entries: Entry[] = []
      let bytes = 0
      // What the initiator may want: the keys listed here, each once.
      const listed = new Set<string>()
      for (const bucket of differing) {
        for (const key of this.state.keysInBucket(bucket)) {
          listed.add(key)
          entries.push([key, [...versionOf(this.state.get(key)!)]])
          bytes += key.length + 80
          if (bytes > RECORD_BATCH_BYTES) {
            await frames.write({ t: 'entries', e: entries })
            entries = []
            bytes = 0
          }
        }
      }
      if (entries.length > 0) await frames.write({ t: 'entries', e: entries })
      await frames.write({ t: 'entries-end', b: differing })

      const wanted = new Set<string>()
      let received = 0
      // A push may bring at most what a round lists: the initiator's whole state is no bigger than that.
      const budget = { records: MAX_SYNC_ENTRIES }
      const fenced: StateRecord[] = []
      for (let frame = await frames.read(); frame.t !== 'push-end'; frame = await frames.read()) {
        if (frame.t === 'records') received += await this.receiveRecords(frame.r, peer, budget, fenced)
        else if (frame.t === 'want') this.addWanted(wanted, frame.k, listed)
        else throw new SyncProtocolError(`unexpected ${frame.t} frame`)
      }
      received += await this.judgeAndMerge(fenced, peer)
      await this.sendRecords(frames, [...wanted])
      await frames.write({ t: 'end' })
      await stream.close({ signal })
      this.metrics.syncRounds.inc({ role: 'responder', result: 'ok' })
      if (received + wanted.size > 0)
        this.log.debug({ peer, sent: wanted.size, received }, 'sync round repaired')
    } catch (err) {
      this.metrics.syncRounds.inc({ role: 'responder', result: 'error' })
      await frames.refuse(err).catch(this.refusalFailed)
      throw err
    }
  }

  /**
   * Takes a want frame: an honest initiator wants only keys this side listed, each once, so anything else (a key
   * asked for twice, one never listed) is refused rather than answered: the answer stays bounded by the listing.
   */
  private addWanted(wanted: Set<string>, keys: readonly string[], listed: ReadonlySet<string>): void {
    for (const key of keys) {
      if (wanted.has(key)) throw new SyncLimitError(`the peer wanted ${key} twice in one round`)
      if (!listed.has(key)) throw new SyncLimitError(`the peer wanted ${key}, which this side did not list`)
      wanted.add(key)
    }
  }

  private async sendRecords(frames: FrameStream, keys: readonly string[]): Promise<void> {
    let batch: unknown[] = []
    let bytes = 0
    for (const key of keys) {
      const record = this.state.get(key)
      if (record === undefined) continue
      batch.push(toWire(record))
      bytes += record.body.length + 100
      if (bytes > RECORD_BATCH_BYTES) {
        await frames.write({ t: 'records', r: batch })
        batch = []
        bytes = 0
      }
    }
    if (batch.length > 0) await frames.write({ t: 'records', r: batch })
    this.metrics.syncRecords.inc({ direction: 'sent' }, keys.length)
  }

  /**
   * Judges and merges one frame of records. Those of fenced kinds are kept in `fenced`, judged once everything
   * else the round carried is merged: after a heal, one round brings the new coordinator's lease and the work
   * written under it, and work judged before its lease would be refused as "newer than the newest known lease",
   * then wait for another round.
   */
  private async receiveRecords(
    inputs: readonly unknown[],
    peer: string,
    budget: { records: number },
    fenced: StateRecord[],
  ): Promise<number> {
    budget.records -= inputs.length
    if (budget.records < 0) throw new SyncLimitError('the peer sent more records than the round asked for')
    this.metrics.syncRecords.inc({ direction: 'received' }, inputs.length)
    const ctx = this.state.validationContext()
    const now: StateRecord[] = []
    for (const input of inputs) {
      const decoded = decodeWireRecord(input)
      if (typeof decoded === 'string') {
        this.metrics.recordsDropped.inc({ reason: decoded, source: 'sync' })
        continue
      }
      if (ctx.kinds.isFenced(decoded.key)) fenced.push(decoded)
      else now.push(decoded)
    }
    return this.judgeAndMerge(now, peer)
  }

  private async judgeAndMerge(records: readonly StateRecord[], peer: string): Promise<number> {
    if (records.length === 0) return 0
    const ctx = this.state.validationContext()
    const valid: StateRecord[] = []
    for (const record of records) {
      // Gossip often delivers a record while the round that listed it is under way: nothing to judge then,
      // and a signature check is the dearest step (thousands a round while a cluster takes in a big batch).
      // The same test the merge applies (applyRemote), so nothing it would take is skipped.
      const mine = this.state.get(record.key)
      if (mine !== undefined && compareRecords(mine, record) >= 0) continue
      const result = judgeRecord(record, ctx)
      if (result.ok) {
        valid.push(result.record)
        continue
      }
      this.metrics.recordsDropped.inc({ reason: result.reason, source: 'sync' })
      if (result.reason === 'unknown-kind')
        warnUnknownKind(this.unknownKindWarnings, result.origin ?? peer, result.detail)
    }
    return this.state.applyRemote(valid, 'sync', peer)
  }
}
