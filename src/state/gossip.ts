// Gossip of records on the one state topic: batched publishing of local writes, validation at the edge.
import type { Logger } from 'pino'
import type { GossipMessage, GossipVerdict, Mesh } from '../mesh/index.js'
import {
  GOSSIP_RECORDS_BURST,
  GOSSIP_RECORDS_PER_SECOND,
  RECORD_BATCH_BYTES,
  REPUBLISH_ATTEMPTS,
  REPUBLISH_DELAY_MS,
  STATE_TOPIC,
} from './constants.js'
import { decodeEnvelope, encodeEnvelope } from './envelope.js'
import type { StateMetrics } from './metrics.js'
import {
  PeerWarnings,
  SKEW_WARN_EVERY_MS,
  UNKNOWN_KIND_WARN_EVERY_MS,
  warnUnknownKind,
} from './peer-warnings.js'
import { PublisherRate } from './publisher-rate.js'
import type { StateRecord } from './record.js'
import type { Replica } from './types.js'
import {
  type DropReason,
  judgeRecord,
  type RecordDrop,
  undecodable,
  type ValidationContext,
} from './validate.js'
import { decodeWireRecord, toWire } from './wire.js'

/** Reasons that mark the publisher as broken or hostile: the whole message is refused and the peer penalised. */
const HOSTILE: ReadonlySet<DropReason> = new Set([
  'decode',
  'oversize',
  'range',
  'schema',
  'writer',
  'signature',
])

export class StateGossip {
  private outbox: StateRecord[] = []
  private flushScheduled = false
  /** Records validated by the topic validator, handed to delivery without decoding twice. */
  private readonly validated = new WeakMap<Uint8Array, StateRecord[]>()
  private readonly skewWarnings: PeerWarnings
  private readonly unknownKindWarnings: PeerWarnings
  private readonly rate = new PublisherRate(GOSSIP_RECORDS_PER_SECOND, GOSSIP_RECORDS_BURST)
  private running = false

  constructor(
    private readonly mesh: Mesh,
    private readonly state: Replica,
    private readonly metrics: StateMetrics,
    private readonly log: Logger,
  ) {
    this.skewWarnings = new PeerWarnings(log, SKEW_WARN_EVERY_MS)
    this.unknownKindWarnings = new PeerWarnings(log, UNKNOWN_KIND_WARN_EVERY_MS)
  }

  async start(): Promise<void> {
    if (this.running) return
    this.running = true
    this.mesh.subscribe(STATE_TOPIC, {
      validate: (message) => this.validate(message),
      deliver: (message) => this.deliver(message),
    })
  }

  async stop(): Promise<void> {
    if (!this.running) return
    await this.flush()
    this.running = false
  }

  /** Queues records for publishing; everything queued in one tick goes out in as few messages as fit. */
  publish(records: readonly StateRecord[]): void {
    for (const record of records) this.outbox.push(record)
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => {
      this.flush().catch((err: Error) => this.log.warn({ err: err.message }, 'publish failed'))
    })
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false
    const records = this.outbox
    this.outbox = []
    let batch: StateRecord[] = []
    let wires: string[] = []
    let batchBytes = 0
    for (const record of records) {
      const wire = JSON.stringify(toWire(record))
      if (batchBytes + wire.length > RECORD_BATCH_BYTES && batch.length > 0) {
        await this.publishBatch(batch, 0, wires)
        batch = []
        wires = []
        batchBytes = 0
      }
      batch.push(record)
      wires.push(wire)
      batchBytes += wire.length + 1
    }
    if (batch.length > 0) await this.publishBatch(batch, 0, wires)
  }

  /** One gossip message of records; if nobody's subscription was known, they are sent again later. */
  private async publishBatch(
    records: readonly StateRecord[],
    attempt: number,
    wires = records.map((record) => JSON.stringify(toWire(record))),
  ): Promise<void> {
    const data = await encodeEnvelope(wires)
    const recipients = await this.mesh.publish(STATE_TOPIC, data)
    this.metrics.gossipOut.inc()
    if (recipients === 0) this.retryLater(records, attempt + 1)
  }

  /**
   * Nobody's subscription was known: a write made just before or just after a connection opened, before
   * gossipsub exchanged subscriptions. Sync on connect may already have run, so without this the write would
   * reach the others only at the next periodic sync. Records still current are sent again shortly.
   */
  private retryLater(records: readonly StateRecord[], attempt: number): void {
    if (attempt > REPUBLISH_ATTEMPTS) return
    const timer = setTimeout(() => {
      const current = records.filter((record) => this.state.get(record.key) === record)
      if (!this.running || current.length === 0) return
      if (this.mesh.connectedPeers().length === 0) {
        this.retryLater(current, attempt + 1)
        return
      }
      this.publishBatch(current, attempt).catch((err: Error) =>
        this.log.debug({ err: err.message }, 'republish failed'),
      )
    }, REPUBLISH_DELAY_MS * attempt)
    timer.unref()
  }

  /**
   * Judges a message's records: those of fenced kinds last, with the rest of the message seen as merged (as
   * sync does with a round), so a new term's lease and work written under it may travel in one message. Fenced
   * records of a term no known lease has yet are held for that lease (it may be in the next message of the same
   * RPC, validated before this one is delivered). The first record that marks the publisher broken or hostile
   * refuses the whole message, judging nothing after it.
   */
  private validate(message: GossipMessage): GossipVerdict {
    const envelope = decodeEnvelope(message.data)
    if (typeof envelope === 'string') return this.dropMessage(envelope, message.from, 'reject')
    const ctx = this.state.validationContext({ gossipSigner: message.from })
    const unfenced: StateRecord[] = []
    const fenced: StateRecord[] = []
    const accepted: StateRecord[] = []
    const awaitingLease: StateRecord[] = []
    let firstDrop: DropReason | undefined
    /** Counts a refused record; true if it refuses the whole message. */
    const refuses = (result: RecordDrop): boolean => {
      this.metrics.recordsDropped.inc({ reason: result.reason, source: 'gossip' })
      if (HOSTILE.has(result.reason)) {
        this.log.debug({ from: message.from, detail: result.detail }, 'refused record')
        return true
      }
      if (result.reason === 'skew') {
        const origin = result.origin ?? message.from
        this.skewWarnings.warn(
          origin,
          { detail: result.detail },
          `clock of peer ${origin} is too far ahead; its records are refused`,
        )
      }
      if (result.reason === 'unknown-kind')
        warnUnknownKind(this.unknownKindWarnings, result.origin ?? message.from, result.detail)
      firstDrop ??= result.reason
      return false
    }
    for (const input of envelope.r) {
      const decoded = decodeWireRecord(input)
      if (typeof decoded !== 'string') {
        ;(ctx.kinds.isFenced(decoded.key) ? fenced : unfenced).push(decoded)
        continue
      }
      const result = undecodable(decoded)
      if (refuses(result)) return this.dropMessage(result.reason, message.from, 'reject')
    }
    const judge = (records: readonly StateRecord[], judging: ValidationContext): RecordDrop | undefined => {
      for (const record of records) {
        const result = judgeRecord(record, judging)
        if (result.ok) accepted.push(result.record)
        else if (result.reason === 'unknown-term') awaitingLease.push(record)
        else if (refuses(result)) return result
      }
      return undefined
    }
    const hostile =
      judge(unfenced, ctx) ??
      judge(
        fenced,
        accepted.length > 0
          ? this.state.validationContext({ gossipSigner: message.from, alongside: accepted })
          : ctx,
      )
    if (hostile !== undefined) return this.dropMessage(hostile.reason, message.from, 'reject')
    // Records we merely cannot use (clock skew, a kind from a newer version) are not the sender's fault.
    const taken = accepted.length + awaitingLease.length
    if (taken === 0) return this.dropMessage(firstDrop ?? 'schema', message.from, 'ignore')
    if (!this.rate.take(message.from, taken)) {
      this.metrics.recordsDropped.inc({ reason: 'rate', source: 'gossip' }, taken)
      // Each node counts for itself: a relay forwarded what its own count allowed, and is not to blame.
      const sentItself = message.via === undefined || message.via === message.from
      return this.dropMessage('rate', message.from, sentItself ? 'reject' : 'ignore')
    }
    if (awaitingLease.length > 0) this.state.holdForLease(awaitingLease, message.from)
    this.validated.set(message.data, accepted)
    return 'accept'
  }

  private dropMessage(reason: DropReason, from: string, verdict: GossipVerdict): GossipVerdict {
    this.metrics.gossipDropped.inc({ reason })
    if (verdict === 'reject') this.log.warn({ from, reason }, 'refused gossip message')
    return verdict
  }

  private deliver(message: GossipMessage): void {
    if (!this.running) return
    let records = this.validated.get(message.data)
    if (records === undefined) {
      // Not seen by our validator as this exact object: judge it again rather than trust it.
      if (this.validate(message) !== 'accept') return
      records = this.validated.get(message.data) ?? []
    }
    this.validated.delete(message.data)
    this.metrics.gossipIn.inc()
    this.state.applyRemote(records, 'gossip', message.from).catch((err: Error) => {
      this.log.error({ from: message.from, err: err.message }, 'could not store gossiped records')
    })
  }
}
