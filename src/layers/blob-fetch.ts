// One blob's way into the store: routes tried in turn, with the bytes received and the claim held kept across them.
import type { Readable } from 'node:stream'
import {
  BlobPeerUnreachableError,
  DigestMismatchError,
  DiskFullError,
  PullFailedError,
  StoreFullError,
} from '../errors.js'
import type { Stamp } from '../state/index.js'
import { fetchBlobRange } from './blob-channel.js'
import { MAX_PARALLEL_RANGES, MIN_RANGE_BYTES, RELAY_RECHECK_MS, STALL_TIMEOUT_MS } from './constants.js'
import { drainInBatches } from './drain-batches.js'
import type { Descriptor } from './manifest.js'
import type { BlobSource, PeerEndpoint, PullComponents, PullEvent } from './pull-types.js'
import type { ImageReference } from './reference.js'
import type { BlobWriter } from './store.js'

/** Bytes a pull got from each kind of source. */
export interface Tally {
  origin: number
  peers: number
  local: number
}

/** Routes that fail without moving the blob on are tried this many times in all. */
const MAX_FAILED_ROUTES = 8

/** Ends a relay's stream when its chain has a closer upstream: not a failure, the next route resumes there. */
class UpstreamMoved extends Error {}

/**
 * Fetches one blob: from peers that hold it, else from the peer fetching it (joining its relay chain), else
 * by claiming it and fetching from the origin. When a sequential route fails part-way, the bytes it brought
 * are kept and the next route resumes after them, under the same claim: relays streaming from this node
 * then only wait, instead of losing their bytes too and failing in turn down the chain. Bytes are thrown
 * away only when they do not match the digest (and the peers that sent them are marked).
 */
export class BlobFetch {
  /** The sequential write in progress, kept across routes (others may be streaming it from us). */
  private writer: BlobWriter | undefined
  /** Who sent the bytes `writer` holds: all are suspect if the digest does not match. */
  private readonly senders = new Set<string>()
  /** Bytes `writer` holds, by the kind of source that sent them. */
  private readonly received = { origin: 0, peers: 0 }
  /** Peers whose stream failed during this fetch: not asked again by it while others can be. */
  private readonly failedPeers = new Set<string>()
  /**
   * Peers that gave no answer at all (refused, unreachable, timed out): not asked again by this fetch, and
   * their claims do not hold it back. Once every peer route is here, the blob comes from the origin at once.
   */
  private readonly unreachable = new Set<string>()
  /** The route being tried, for the log: `origin`, or the peer streamed from. */
  private route = 'none'
  /** The fetch holds a claim (a relay place, then perhaps the origin fetch), released when it ends. */
  private holdsClaim = false

  constructor(
    private readonly components: PullComponents,
    private readonly ref: ImageReference,
    private readonly blob: Descriptor,
    private readonly tally: Tally,
    private readonly emit: (event: PullEvent) => void,
    private readonly signal?: AbortSignal,
  ) {}

  async run(): Promise<void> {
    try {
      await this.tryRoutes()
    } finally {
      await this.end()
    }
  }

  private async tryRoutes(): Promise<void> {
    const { store, log } = this.components
    const { digest, size } = this.blob
    let failures = 0
    let lastError: Error | undefined
    for (let first = true; failures < MAX_FAILED_ROUTES; first = false) {
      this.signal?.throwIfAborted()
      if (store.has(digest)) {
        if (first) this.tally.local += size
        this.progress('done', size, first ? 'local' : undefined)
        return
      }
      const ongoing = store.writerOf(digest)
      if (ongoing !== undefined && ongoing !== this.writer) {
        // Another pull on this node is fetching it: wait for that one.
        this.progress('waiting', ongoing.written)
        await ongoing.whenWritten(size).catch((err: Error) => {
          // That pull gave the blob up: this one tries the routes itself.
          log.debug({ digest, err: err.message }, 'another pull of this blob failed')
        })
        await waitUntil(() => store.has(digest) || store.writerOf(digest) === undefined)
        continue
      }
      const before = this.writer?.written ?? 0
      try {
        const source = await this.tryRoute()
        if (source === undefined) continue
        this.tally.origin += this.received.origin
        this.tally.peers += this.received.peers
        this.progress('done', size, source)
        log.debug({ digest, size, from: this.route }, 'stored a blob')
        return
      } catch (err) {
        if (this.signal?.aborted === true) throw err
        if (err instanceof UpstreamMoved) {
          log.debug({ digest, from: this.route, resumeAt: this.writer?.written }, err.message)
          continue
        }
        lastError = err as Error
        await this.afterFailure(lastError)
        // No route helps when this node has no room for the blob.
        if (lastError instanceof StoreFullError || lastError instanceof DiskFullError) throw lastError
        // A peer that gave no answer is left out from now on: the next route is planned at once, without it,
        // and without counting a failure (there are only so many peers to leave out).
        if (lastError instanceof BlobPeerUnreachableError) {
          log.warn(
            { digest, route: this.route, unreachable: [...this.unreachable], err: lastError.message },
            'a peer gave no answer; planning the blob without it',
          )
          continue
        }
        // A route that moved the blob on is not held against it: the next resumes where it stopped.
        const resumeAt = this.writer?.written ?? 0
        if (resumeAt <= before) failures++
        log.warn(
          { digest, route: this.route, failures, resumeAt, err: lastError.message },
          'blob fetch failed; trying another route',
        )
        await sleep(Math.min(200 * 2 ** Math.max(0, failures - 1), 2_000))
      }
    }
    throw new PullFailedError(`could not get ${digest}: ${lastError?.message ?? 'no route'}`, {
      cause: lastError,
    })
  }

  /** One route; resolves to where the bytes came from, or undefined if a claim was lost (try again at once). */
  private async tryRoute(): Promise<BlobSource | undefined> {
    const { sources, log } = this.components
    const { digest, size } = this.blob
    const reachable = sources.holders(digest).filter((holder) => !this.unreachable.has(holder.peer))
    const holders = usableFirst(reachable, this.failedPeers)
    if (holders.length > 0) {
      if (this.writer === undefined && this.rangeCount(holders) > 1) await this.fromHolders(holders)
      else await this.fromStream(holders[0]!)
      return 'peer'
    }
    const claimant = sources.claimant(digest, this.unreachable)
    if (claimant !== undefined && !this.unreachable.has(claimant.peer)) {
      const avoid = new Set([...this.failedPeers, ...this.unreachable])
      const place = await sources.joinRelay(digest, size, claimant, avoid)
      this.hold()
      await this.fromStream(place.from, place.joinedAt)
      return 'peer'
    }
    this.progress('waiting', this.writer?.written ?? 0)
    // A node that claims keeps the stamp of the claim it holds; losing the settle leaves it a relay.
    const won = await sources.claim(digest, size, this.unreachable)
    this.hold()
    if (!won) return undefined
    log.info({ digest, size, resumeAt: this.writer?.written ?? 0 }, 'fetching a blob from its origin')
    await this.fromOrigin()
    return 'origin'
  }

  private async fromOrigin(): Promise<void> {
    const { registry, log } = this.components
    const writer = await this.sequentialWriter()
    const offset = writer.written
    this.route = 'origin'
    const started = performance.now()
    const { body } = await registry.fetchBlob(this.ref, this.blob.digest, { offset, signal: this.signal })
    const answeredMs = Math.round(performance.now() - started)
    const watch = this.watchOtherFetcher(body)
    try {
      await this.copy(body, writer, 'origin')
    } finally {
      clearInterval(watch)
      this.received.origin += writer.written - offset
    }
    this.checkComplete(writer, 'the origin')
    await this.commit(writer)
    // Others may be streaming it from us: how long the origin took to answer and to deliver says why they waited.
    log.info(
      {
        digest: this.blob.digest,
        size: this.blob.size,
        answeredMs,
        ms: Math.round(performance.now() - started),
      },
      'fetched a blob from its origin',
    )
  }

  /** Streams the rest of the blob from one peer: a holder, or (as a relay) a peer it is still arriving at. */
  private async fromStream(from: PeerEndpoint, relayJoinedAt?: Stamp): Promise<void> {
    const writer = await this.sequentialWriter()
    const offset = writer.written
    this.route = from.peer
    this.senders.add(from.peer)
    try {
      const range = await fetchBlobRange(
        from,
        this.components.blobKey,
        { digest: this.blob.digest, offset, relayJoinedAt },
        this.signal,
      )
      const watch = relayJoinedAt === undefined ? undefined : this.watchUpstream(from.peer, range.stream)
      try {
        await this.copy(range.stream, writer, 'peer')
      } finally {
        clearInterval(watch)
      }
      this.checkComplete(writer, from.peer)
    } catch (err) {
      if (!(err instanceof UpstreamMoved)) this.failedPeers.add(from.peer)
      if (err instanceof BlobPeerUnreachableError) this.unreachable.add(from.peer)
      throw err
    } finally {
      this.received.peers += writer.written - offset
    }
    await this.commit(writer)
  }

  /**
   * While relaying from `upstream`: ends the stream (UpstreamMoved) once the chain puts another relay between
   * it and this node, so the next route streams from that one and the chain is a chain again.
   */
  private watchUpstream(upstream: string, stream: Readable): NodeJS.Timeout {
    return this.moveWhenSeenTwice(
      stream,
      () => this.components.sources.closerUpstream(this.blob.digest, upstream, this.failedPeers)?.peer,
      (closer) => `moving from ${upstream} to the closer relay ${closer}`,
    )
  }

  /**
   * While fetching from the origin: ends the download (UpstreamMoved) once another node fetches the blob under
   * an earlier claim, so the next route relays from it, after the bytes we have.
   */
  private watchOtherFetcher(body: Readable): NodeJS.Timeout {
    return this.moveWhenSeenTwice(
      body,
      () => this.components.sources.earlierFetcher(this.blob.digest, this.unreachable),
      (other) => `giving way to ${other}, which fetches it from the origin since before us`,
    )
  }

  /** Every RELAY_RECHECK_MS asks `look` for a better source; two looks in a row on the same one end `stream`. */
  private moveWhenSeenTwice(
    stream: Readable,
    look: () => string | undefined,
    why: (peer: string) => string,
  ): NodeJS.Timeout {
    let seen: string | undefined
    return setInterval(() => {
      const peer = look()
      if (peer !== undefined && peer === seen) stream.destroy(new UpstreamMoved(why(peer)))
      seen = peer
    }, RELAY_RECHECK_MS)
  }

  /** Fetches ranges from several holders at once into a ranged writer (not kept: nobody streams from it). */
  private async fromHolders(holders: PeerEndpoint[]): Promise<void> {
    const { store, blobKey, sources } = this.components
    const { digest, size } = this.blob
    const rangeCount = this.rangeCount(holders)
    const writer = await store.beginWrite(digest, size, { ranged: true })
    const rangeSize = Math.ceil(size / rangeCount)
    const used = holders.slice(0, rangeCount)
    this.route = used.map((holder) => holder.peer).join(',')
    try {
      await Promise.all(
        used.map(async (holder, i) => {
          const offset = i * rangeSize
          const length = Math.min(rangeSize, size - offset)
          const range = await fetchBlobRange(holder, blobKey, { digest, offset, length }, this.signal).catch(
            (err: Error) => {
              if (err instanceof BlobPeerUnreachableError) this.unreachable.add(holder.peer)
              throw err
            },
          )
          let position = offset
          await drainInBatches(range.stream, async (batch) => {
            await writer.writeAt(position, batch)
            position += batch.length
            this.progress('downloading', writer.written, 'peer')
          })
          if (position !== offset + length) throw new PullFailedError(`${holder.peer} sent a short range`)
        }),
      )
      await writer.commit()
      this.received.peers += size
    } catch (err) {
      await writer.abort(err as Error)
      if (err instanceof DigestMismatchError) for (const peer of used) sources.markBad(peer.peer, digest)
      throw err
    }
  }

  /**
   * One range per holder: several ranges from one holder add no bandwidth (its one thread encrypts them all)
   * and cost a re-read to hash; one sequential stream is hashed as it arrives.
   */
  private rangeCount(holders: PeerEndpoint[]): number {
    return Math.max(
      1,
      Math.min(MAX_PARALLEL_RANGES, holders.length, Math.floor(this.blob.size / MIN_RANGE_BYTES)),
    )
  }

  private async sequentialWriter(): Promise<BlobWriter> {
    this.writer ??= await this.components.store.beginWrite(this.blob.digest, this.blob.size)
    return this.writer
  }

  /** A source that ended early (its own source failed, or it gave up) leaves the rest to the next route. */
  private checkComplete(writer: BlobWriter, from: string): void {
    if (writer.written !== this.blob.size)
      throw new PullFailedError(`${from} stopped after ${writer.written} of ${this.blob.size} bytes`)
  }

  /** Checks the digest and stores the blob (a mismatch aborts the writer, and afterFailure drops it). */
  private async commit(writer: BlobWriter): Promise<void> {
    await writer.commit()
    this.writer = undefined
  }

  /**
   * After a failed route the bytes received are kept, unless they do not match their digest (their senders
   * are marked then) or the write was aborted under us (the daemon is stopping).
   */
  private async afterFailure(err: Error): Promise<void> {
    const writer = this.writer
    if (writer === undefined) return
    const mismatch = err instanceof DigestMismatchError
    if (!mismatch && !writer.aborted) return
    if (mismatch) for (const peer of this.senders) this.components.sources.markBad(peer, this.blob.digest)
    await this.dropWriter(err)
  }

  private async dropWriter(reason: Error): Promise<void> {
    const writer = this.writer
    this.writer = undefined
    this.senders.clear()
    this.received.origin = 0
    this.received.peers = 0
    await writer?.abort(reason)
  }

  /** The fetch holds a claim from now until it ends (the sources renew it meanwhile), released at the end. */
  private hold(): void {
    this.holdsClaim = true
  }

  /** Gives up what the fetch still holds: a write that did not complete, and its claim. */
  private async end(): Promise<void> {
    if (this.writer !== undefined)
      await this.dropWriter(new PullFailedError(`gave up on ${this.blob.digest}`))
    if (!this.holdsClaim) return
    this.holdsClaim = false
    await this.components.sources.releaseClaim(this.blob.digest).catch((err: Error) =>
      // No longer renewed, the claim lapses on its own (CLAIM_TTL_MS); the fetch's own outcome stands.
      this.components.log.debug(
        { digest: this.blob.digest, err: err.message },
        'could not release a fetch claim',
      ),
    )
  }

  /** Copies a body into a writer; a source that sends nothing for STALL_TIMEOUT_MS is given up on. */
  private async copy(body: Readable, writer: BlobWriter, source: BlobSource): Promise<void> {
    const stall = setTimeout(
      () => body.destroy(new PullFailedError(`no bytes of ${writer.digest} for ${STALL_TIMEOUT_MS} ms`)),
      STALL_TIMEOUT_MS,
    )
    try {
      await drainInBatches(
        body,
        async (batch) => {
          await writer.write(batch)
          this.progress('downloading', writer.written, source)
        },
        () => stall.refresh(),
      )
    } finally {
      clearTimeout(stall)
    }
  }

  private progress(status: 'waiting' | 'downloading' | 'done', current: number, source?: BlobSource): void {
    this.emit({ type: 'blob', digest: this.blob.digest, status, source, current, total: this.blob.size })
  }
}

/** Peers not in `failed` first; all of them if every one has failed (a transient failure may have passed). */
function usableFirst(peers: PeerEndpoint[], failed: ReadonlySet<string>): PeerEndpoint[] {
  const fresh = peers.filter((peer) => !failed.has(peer.peer))
  return fresh.length > 0 ? fresh : peers
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(50)
}
