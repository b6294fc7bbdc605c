// The pull planner: each blob from peers that hold it, else from the peer fetching it, else claimed and fetched from the origin.

import type { Readable } from 'node:stream'
import type { Logger } from 'pino'
import { DigestMismatchError, PullFailedError } from '../errors.js'
import type { Stamp } from '../state/index.js'
import { fetchBlobRange } from './blob-channel.js'
import {
  CLAIM_RENEW_MS,
  MAX_PARALLEL_LAYERS,
  MAX_PARALLEL_RANGES,
  MIN_RANGE_BYTES,
  STALL_TIMEOUT_MS,
} from './constants.js'
import type { Digest } from './digest.js'
import { drainInBatches } from './drain-batches.js'
import type { LocalImage } from './images.js'
import type { Descriptor, Platform } from './manifest.js'
import { formatReference, type ImageReference } from './reference.js'
import type { RegistryClient } from './registry-client.js'
import type { BlobStore, BlobWriter } from './store.js'

export type BlobSource = 'local' | 'origin' | 'peer'

/** One line of pull progress (also what `POST /v1/images/pull` streams, one JSON object per line). */
export type PullEvent =
  | { type: 'resolved'; ref: string; digest: Digest; layers: Array<{ digest: Digest; size: number }> }
  | {
      type: 'blob'
      digest: Digest
      status: 'waiting' | 'downloading' | 'done'
      source?: BlobSource
      current: number
      total: number
    }
  | {
      type: 'done'
      ref: string
      digest: Digest
      bytesFromOrigin: number
      bytesFromPeers: number
      bytesLocal: number
    }

export interface PeerEndpoint {
  peer: string
  host: string
  port: number
}

/** Where this node stands in a blob's relay chain. */
export interface RelayPlace {
  from: PeerEndpoint
  /** The stamp of its relay claim: the node streamed from checks that it joined earlier. */
  joinedAt: Stamp
}

/** What the planner needs to know about the mesh (answered from local state: no network round trip). */
export interface PullSources {
  /** Alive peers whose inventory lists the blob complete, minus peers marked bad. */
  holders(digest: Digest): PeerEndpoint[]
  /** The live claim on the blob by another alive peer, if any. */
  claimant(digest: Digest): PeerEndpoint | undefined
  /** Joins the relay chain behind `claimant`; resolves to the node to stream from and when this node joined. */
  joinRelay(digest: Digest, size: number, claimant: PeerEndpoint): Promise<RelayPlace>
  renewRelay(digest: Digest, size: number): Promise<void>
  /** Claims the blob; resolves true if the claim still stands after the settle time. */
  claim(digest: Digest, size: number): Promise<boolean>
  renewClaim(digest: Digest, size: number): Promise<void>
  releaseClaim(digest: Digest): Promise<void>
  /** A peer served bytes that did not match their digest. */
  markBad(peer: string, digest: Digest): void
}

export interface PullComponents {
  store: BlobStore
  registry: RegistryClient
  sources: PullSources
  blobKey: Buffer
  log: Logger
  platform: Platform
}

interface Tally {
  origin: number
  peers: number
  local: number
}

const MAX_ATTEMPTS = 8

export class Puller {
  constructor(private readonly components: PullComponents) {}

  /** Pulls an image into the store and returns it as the local index will hold it. */
  async pull(
    ref: ImageReference,
    emit: (event: PullEvent) => void,
    signal?: AbortSignal,
  ): Promise<LocalImage> {
    const { registry, store, platform } = this.components
    const resolved = await registry.resolve(ref, platform)
    const refText = formatReference({ ...ref, digest: undefined })
    const blobs: Descriptor[] = [resolved.config, ...resolved.layers]
    emit({
      type: 'resolved',
      ref: refText,
      digest: resolved.manifestDigest,
      layers: resolved.layers.map((layer) => ({ digest: layer.digest, size: layer.size })),
    })
    if (!store.has(resolved.manifestDigest)) {
      const writer = await store.beginWrite(resolved.manifestDigest, resolved.manifestBytes.length)
      await writer.write(resolved.manifestBytes)
      await writer.commit()
    }
    const tally: Tally = { origin: 0, peers: 0, local: 0 }
    await runLimited(blobs, MAX_PARALLEL_LAYERS, (blob) => this.obtain(ref, blob, tally, emit, signal))
    emit({
      type: 'done',
      ref: refText,
      digest: resolved.manifestDigest,
      bytesFromOrigin: tally.origin,
      bytesFromPeers: tally.peers,
      bytesLocal: tally.local,
    })
    return {
      ref: refText,
      digest: resolved.manifestDigest,
      mediaType: resolved.manifestMediaType,
      config: { digest: resolved.config.digest, size: resolved.config.size },
      layers: resolved.layers.map((layer) => ({
        digest: layer.digest,
        size: layer.size,
        mediaType: layer.mediaType,
      })),
      size: blobs.reduce((sum, blob) => sum + blob.size, 0),
      pulledAt: new Date().toISOString(),
    }
  }

  /** Gets one blob into the store by the cheapest route that works, falling back on failure. */
  private async obtain(
    ref: ImageReference,
    blob: Descriptor,
    tally: Tally,
    emit: (e: PullEvent) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const { store, sources, log } = this.components
    const progress = (
      status: 'waiting' | 'downloading' | 'done',
      current: number,
      source?: BlobSource,
    ): void => emit({ type: 'blob', digest: blob.digest, status, source, current, total: blob.size })
    let lastError: Error | undefined
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      signal?.throwIfAborted()
      if (store.has(blob.digest)) {
        if (attempt === 0) tally.local += blob.size
        progress('done', blob.size, attempt === 0 ? 'local' : undefined)
        return
      }
      const ongoing = store.writerOf(blob.digest)
      if (ongoing !== undefined) {
        // Another pull on this node is fetching it: wait for that one.
        progress('waiting', ongoing.written)
        await ongoing.whenWritten(blob.size).catch(() => undefined)
        await waitUntil(() => store.has(blob.digest) || store.writerOf(blob.digest) === undefined)
        continue
      }
      try {
        const holders = sources.holders(blob.digest)
        if (holders.length > 0) {
          await this.fromHolders(blob, holders, (n) => progress('downloading', n, 'peer'), signal)
          tally.peers += blob.size
          progress('done', blob.size, 'peer')
          return
        }
        const claimant = sources.claimant(blob.digest)
        if (claimant !== undefined) {
          const place = await sources.joinRelay(blob.digest, blob.size, claimant)
          const renew = setInterval(() => {
            sources.renewRelay(blob.digest, blob.size).catch(() => undefined)
          }, CLAIM_RENEW_MS)
          try {
            await this.fromStream(
              blob,
              place.from,
              (n) => progress('downloading', n, 'peer'),
              signal,
              place.joinedAt,
            )
          } finally {
            clearInterval(renew)
            await sources.releaseClaim(blob.digest).catch(() => undefined)
          }
          tally.peers += blob.size
          progress('done', blob.size, 'peer')
          return
        }
        progress('waiting', 0)
        if (!(await sources.claim(blob.digest, blob.size))) continue
        log.info({ digest: blob.digest, size: blob.size }, 'fetching a blob from its origin')
        try {
          await this.fromOrigin(ref, blob, (n) => progress('downloading', n, 'origin'), signal)
        } finally {
          await sources.releaseClaim(blob.digest).catch(() => undefined)
        }
        tally.origin += blob.size
        progress('done', blob.size, 'origin')
        return
      } catch (err) {
        if (signal?.aborted === true) throw err
        lastError = err as Error
        log.warn(
          { digest: blob.digest, attempt, err: lastError.message },
          'blob fetch failed; trying another route',
        )
        await sleep(Math.min(200 * 2 ** attempt, 2_000))
      }
    }
    throw new PullFailedError(`could not get ${blob.digest}: ${lastError?.message ?? 'no route'}`, {
      cause: lastError,
    })
  }

  private async fromOrigin(
    ref: ImageReference,
    blob: Descriptor,
    onBytes: (n: number) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const { store, registry, sources, log } = this.components
    const writer = await store.beginWrite(blob.digest, blob.size)
    const renew = setInterval(() => {
      sources.renewClaim(blob.digest, blob.size).catch(() => undefined)
    }, CLAIM_RENEW_MS)
    const started = performance.now()
    try {
      const { body } = await registry.fetchBlob(ref, blob.digest, { signal })
      const answeredMs = Math.round(performance.now() - started)
      await this.copy(body, writer, onBytes)
      await writer.commit()
      // Others may be streaming it from us: how long the origin took to answer and to deliver says why they waited.
      log.info(
        { digest: blob.digest, size: blob.size, answeredMs, ms: Math.round(performance.now() - started) },
        'fetched a blob from its origin',
      )
    } catch (err) {
      await writer.abort(err as Error)
      throw err
    } finally {
      clearInterval(renew)
    }
  }

  /** Streams a blob from the peer fetching it from the origin, bytes flowing on as they reach that peer. */
  private async fromStream(
    blob: Descriptor,
    from: PeerEndpoint,
    onBytes: (n: number) => void,
    signal?: AbortSignal,
    /** When this node joined the blob's relay chain, if it streams as a relay. */
    joinedAt?: Stamp,
  ): Promise<void> {
    const { store, blobKey, sources } = this.components
    const writer = await store.beginWrite(blob.digest, blob.size)
    try {
      const range = await fetchBlobRange(
        from,
        blobKey,
        { digest: blob.digest, offset: 0, relayJoinedAt: joinedAt },
        signal,
      )
      await this.copy(range.stream, writer, onBytes)
      if (writer.written !== blob.size)
        throw new PullFailedError(`${from.peer} stopped after ${writer.written} of ${blob.size} bytes`)
      await writer.commit()
    } catch (err) {
      await writer.abort(err as Error)
      if (err instanceof DigestMismatchError) sources.markBad(from.peer, blob.digest)
      throw err
    }
  }

  /** Fetches ranges from several holders at once (or one range from one holder for small blobs). */
  private async fromHolders(
    blob: Descriptor,
    holders: PeerEndpoint[],
    onBytes: (n: number) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const { store, blobKey, sources } = this.components
    // One range per holder: several ranges from one holder add no bandwidth (its one thread encrypts them all)
    // and cost a re-read to hash; one sequential stream is hashed as it arrives.
    const rangeCount = Math.max(
      1,
      Math.min(MAX_PARALLEL_RANGES, holders.length, Math.floor(blob.size / MIN_RANGE_BYTES)),
    )
    if (rangeCount === 1) {
      await this.fromStream(blob, holders[0]!, onBytes, signal)
      return
    }
    const writer = await store.beginWrite(blob.digest, blob.size, { ranged: true })
    const rangeSize = Math.ceil(blob.size / rangeCount)
    const used = new Set<string>()
    try {
      await Promise.all(
        Array.from({ length: rangeCount }, async (_, i) => {
          const holder = holders[i]!
          used.add(holder.peer)
          const offset = i * rangeSize
          const length = Math.min(rangeSize, blob.size - offset)
          const range = await fetchBlobRange(holder, blobKey, { digest: blob.digest, offset, length }, signal)
          let position = offset
          await drainInBatches(range.stream, async (batch) => {
            await writer.writeAt(position, batch)
            position += batch.length
            onBytes(writer.written)
          })
          if (position !== offset + length) throw new PullFailedError(`${holder.peer} sent a short range`)
        }),
      )
      await writer.commit()
    } catch (err) {
      await writer.abort(err as Error)
      if (err instanceof DigestMismatchError) for (const peer of used) sources.markBad(peer, blob.digest)
      throw err
    }
  }

  /** Copies a body into a writer; a source that sends nothing for STALL_TIMEOUT_MS is given up on. */
  private async copy(body: Readable, writer: BlobWriter, onBytes: (n: number) => void): Promise<void> {
    const stall = setTimeout(
      () => body.destroy(new PullFailedError(`no bytes of ${writer.digest} for ${STALL_TIMEOUT_MS} ms`)),
      STALL_TIMEOUT_MS,
    )
    try {
      await drainInBatches(
        body,
        async (batch) => {
          await writer.write(batch)
          onBytes(writer.written)
        },
        () => stall.refresh(),
      )
    } finally {
      clearTimeout(stall)
    }
  }
}

/** Runs `task` over `items` with at most `limit` at once; fails with the first error once all settle. */
async function runLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0
  const errors: unknown[] = []
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!
      await task(item).catch((err: unknown) => errors.push(err))
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (errors.length > 0) throw errors[0]
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(50)
}
