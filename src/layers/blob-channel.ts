// The blob data channel: TLS 1.2 with a pre-shared key derived from the swarm key, serving blobs by digest and range.
import { hkdfSync } from 'node:crypto'
import { type FileHandle, open } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import type { Readable } from 'node:stream'
import tls from 'node:tls'
import type { Logger } from 'pino'
import { z } from 'zod'
import {
  BlobNotFoundError,
  BlobPeerUnreachableError,
  BlobProtocolError,
  BlobRangeInvalidError,
  BlobTruncatedError,
  ListenFailedError,
  PullFailedError,
  RelayOrderError,
} from '../errors.js'
import type { Stamp } from '../state/index.js'
import { transferBuffers } from './buffer-pool.js'
import { REQUEST_TIMEOUT_MS } from './constants.js'
import { type Digest, isDigest } from './digest.js'
import type { BlobStore, BlobWriter } from './store.js'

/**
 * Why not a libp2p stream: measured on loopback, noise + yamux moves about half of what plain HTTP moves,
 * all of it in JavaScript. TLS-PSK runs AES-GCM in OpenSSL: authenticated (only holders of the swarm key can
 * connect, either way), encrypted, and near plain-TCP speed. Integrity is end to end anyway: every blob is
 * checked against its digest before it enters a store.
 */
const CIPHERS = 'PSK-AES128-GCM-SHA256:PSK-AES256-GCM-SHA384:PSK-CHACHA20-POLY1305'
const MAX_REQUEST_BYTES = 1024
/** Socket writes of one response in flight at once, each a pooled buffer of TRANSFER_BUFFER_BYTES. */
const SEND_AHEAD = 4
/** How long a request for a blob we do not have yet waits for it to start arriving (claim settle + connect). */
const AWAIT_CLAIMED_BLOB_MS = 3_000

/** Offsets and lengths are byte counts a file can have: whole, and exact as JavaScript numbers. */
const byteCount = z.number().int().max(Number.MAX_SAFE_INTEGER)

const requestSchema = z.strictObject({
  digest: z.string().refine(isDigest),
  offset: byteCount.nonnegative(),
  /** Bytes wanted; absent means to the end (of a blob still arriving: until it is complete). */
  length: byteCount.positive().optional(),
  /** A relay asking: when it joined the blob's relay chain (see `RelayPolicy`). */
  relayJoinedAt: z
    .strictObject({
      wall: z.number().int().nonnegative(),
      counter: z.number().int().nonnegative(),
      node: z.string().max(128),
    })
    .optional(),
})

/**
 * Whether this node may pass a blob it is still receiving from a peer on to a relay that joined the chain at
 * `joinedAt` (undefined: the asker is no relay). Relays stream only from relays that joined before them, so a
 * chain built from views that disagree can never close into a cycle, where each would wait on the other.
 */
export type RelayPolicy = (digest: Digest, joinedAt: Stamp | undefined) => boolean

interface ResponseHeader {
  ok: boolean
  /** Total size of the blob, when known. */
  size?: number
  /** Bytes that follow the header. */
  length?: number
  code?: string
  message?: string
}

export function blobChannelKey(swarmKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', swarmKey, 'shoal', 'blob-channel/1', 32))
}

export class BlobChannelServer {
  private server: tls.Server | undefined

  constructor(
    private readonly store: BlobStore,
    private readonly key: Buffer,
    private readonly log: Logger,
    private readonly mayRelayTo: RelayPolicy = () => true,
  ) {}

  async start(host: string, port: number): Promise<number> {
    const server = tls.createServer(
      {
        ciphers: CIPHERS,
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
        pskIdentityHint: 'shoal',
        pskCallback: () => this.key,
      },
      (socket) => {
        socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy())
        this.serve(socket).catch((err: Error) => {
          this.log.debug({ err: err.message }, 'blob request failed')
          socket.destroy()
        })
      },
    )
    server.on('tlsClientError', (err) =>
      this.log.debug({ err: err.message }, 'refused a blob channel client'),
    )
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(
          new ListenFailedError(`cannot listen for blobs on ${host}:${port}: ${err.message}`, { cause: err }),
        ),
      )
      server.listen(port, host, () => resolve())
    })
    this.server = server
    return (server.address() as AddressInfo).port
  }

  async stop(): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server === undefined) return
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  private async serve(socket: tls.TLSSocket): Promise<void> {
    let request: z.infer<typeof requestSchema>
    try {
      request = await readRequest(socket)
    } catch (err) {
      // A request we cannot read is answered with the protocol error, so the asker learns why; a client that
      // is gone already (the socket no longer writable) is simply closed.
      if (!(err instanceof BlobProtocolError) || !socket.writable) throw err
      this.log.debug({ err: err.message }, 'refused a malformed blob request')
      refuse(socket, BlobProtocolError.code, err.message)
      return
    }
    const digest = request.digest as Digest
    // A peer may ask as soon as it sees our claim, while we still settle it and connect to the origin.
    await this.store.whenAvailable(digest, AWAIT_CLAIMED_BLOB_MS)
    if (await this.serveComplete(socket, digest, request.offset, request.length)) return
    const writer = this.store.writerOf(digest)
    if (writer !== undefined && !writer.ranged) {
      if (!this.mayRelayTo(digest, request.relayJoinedAt)) {
        refuse(
          socket,
          RelayOrderError.code,
          `${digest} is still arriving here through a relay that joined after the asker`,
        )
        return
      }
      let file: FileHandle
      try {
        file = await open(writer.tempPath, 'r')
      } catch (err) {
        // Gone a moment ago: if it was committed (renamed into the store), serve it whole.
        const gone = (err as NodeJS.ErrnoException).code === 'ENOENT'
        if (gone && (await this.serveComplete(socket, digest, request.offset, request.length))) return
        throw err
      }
      await this.serveGrowing(socket, writer, file, request.offset, request.length)
      return
    }
    refuse(socket, BlobNotFoundError.code, `no ${digest} here`)
  }

  /** Serves a complete blob from the store; false if the store does not hold it. */
  private async serveComplete(
    socket: tls.TLSSocket,
    digest: Digest,
    offset: number,
    wanted?: number,
  ): Promise<boolean> {
    const blob = this.store.get(digest)
    if (blob === undefined) return false
    if (offset > blob.size) {
      refuseRange(socket, digest, offset, blob.size)
      return true
    }
    const end = wanted === undefined ? blob.size : Math.min(blob.size, offset + wanted)
    const length = Math.max(0, end - offset)
    socket.write(`${JSON.stringify({ ok: true, size: blob.size, length } satisfies ResponseHeader)}\n`)
    if (length === 0) {
      socket.end()
      return true
    }
    await sendFile(socket, await this.store.openBlob(digest), offset, async () => end)
    return true
  }

  /** Streams a blob that is still arriving (from the origin or a relay): bytes go out as they land. */
  private async serveGrowing(
    socket: tls.TLSSocket,
    writer: BlobWriter,
    file: FileHandle,
    offset: number,
    length?: number,
  ): Promise<void> {
    const size = writer.expectedSize
    if (size !== undefined && offset > size) {
      await file.close()
      refuseRange(socket, writer.digest, offset, size)
      return
    }
    const end = length === undefined ? size : offset + length
    socket.write(
      `${JSON.stringify({ ok: true, size, length: end === undefined ? undefined : end - offset } satisfies ResponseHeader)}\n`,
    )
    // Bytes are sent as they land; once the writer is done, what it wrote is all there is.
    await sendFile(socket, file, offset, async (position) => {
      await writer.whenWritten(position + 1)
      return Math.min(writer.written, end ?? Number.POSITIVE_INFINITY)
    })
  }
}

/** Answers a request with an error header and closes the connection. */
function refuse(socket: tls.TLSSocket, code: string, message: string): void {
  socket.end(`${JSON.stringify({ ok: false, code, message } satisfies ResponseHeader)}\n`)
}

/** Refuses a range that starts past the end of the blob: nothing is read, nothing but the refusal is sent. */
function refuseRange(socket: tls.TLSSocket, digest: Digest, offset: number, size: number): void {
  refuse(socket, BlobRangeInvalidError.code, `offset ${offset} is past the end of ${digest} (${size} bytes)`)
}

/**
 * Sends a file from `position` on, in pooled buffers with at most SEND_AHEAD writes in flight, ends the
 * socket, and closes the file (also on failure). `readableEnd(position)` resolves to where the bytes worth
 * sending end for now (more may come for a blob still arriving): the end of the range, or `position` itself
 * when nothing more will come.
 */
async function sendFile(
  socket: tls.TLSSocket,
  file: FileHandle,
  position: number,
  readableEnd: (position: number) => Promise<number>,
): Promise<void> {
  const inFlight = new WriteWindow(socket, SEND_AHEAD)
  try {
    for (;;) {
      const end = await readableEnd(position)
      if (end <= position) break
      while (position < end) {
        await inFlight.room()
        const buffer = transferBuffers.take()
        const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, end - position), position)
        if (bytesRead === 0) {
          transferBuffers.give(buffer)
          throw new BlobTruncatedError(`the blob file ended at ${position} bytes`)
        }
        position += bytesRead
        inFlight.write(buffer, bytesRead)
      }
    }
    socket.end()
  } finally {
    await file.close()
  }
}

/**
 * Socket writes of pooled buffers, each given back to the pool once written. `room()` waits while `limit`
 * writes are in flight, and rejects once the socket is closed (nobody would read what is sent).
 */
class WriteWindow {
  private inFlight = 0
  private wake: (() => void) | undefined

  constructor(
    private readonly socket: tls.TLSSocket,
    private readonly limit: number,
  ) {}

  write(buffer: Buffer, length: number): void {
    this.inFlight++
    this.socket.write(buffer.subarray(0, length), (err) => {
      this.inFlight--
      // A failed write may still be referenced by the socket's queue: that buffer is left to the GC.
      if (err === undefined || err === null) transferBuffers.give(buffer)
      const wake = this.wake
      this.wake = undefined
      wake?.()
    })
  }

  async room(): Promise<void> {
    for (;;) {
      if (this.socket.destroyed) throw new BlobProtocolError('the blob peer closed the connection')
      if (this.inFlight < this.limit) return
      await new Promise<void>((resolve) => {
        const onClose = (): void => resolve()
        this.socket.once('close', onClose)
        this.wake = () => {
          this.socket.off('close', onClose)
          resolve()
        }
      })
    }
  }
}

/** Reads the one-line request without consuming the socket (a for-await would destroy it on return). */
function readRequest(socket: tls.TLSSocket): Promise<z.infer<typeof requestSchema>> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0)
    const cleanup = (): void => {
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.off('error', reject)
    }
    const onEnd = (): void => {
      cleanup()
      reject(new BlobProtocolError('connection closed before a request'))
    }
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk])
      const newline = buffered.indexOf(10)
      if (newline < 0) {
        if (buffered.length > MAX_REQUEST_BYTES) {
          cleanup()
          reject(new BlobProtocolError('blob request too long'))
        }
        return
      }
      cleanup()
      socket.pause()
      try {
        const parsed = requestSchema.safeParse(JSON.parse(buffered.subarray(0, newline).toString('utf8')))
        if (parsed.success) resolve(parsed.data)
        else reject(new BlobProtocolError('malformed blob request'))
      } catch (err) {
        // Only JSON.parse throws here: the request is not JSON.
        reject(new BlobProtocolError('malformed blob request', { cause: err }))
      }
    }
    socket.on('data', onData)
    socket.once('end', onEnd)
    socket.once('error', reject)
  })
}

export interface BlobRange {
  /** Total size of the blob, when the server knows it. */
  size: number | undefined
  /** Bytes that follow; undefined while the server's copy is still arriving and its size unknown. */
  length: number | undefined
  /** The bytes, straight from the TLS socket (pipe it; it ends when the range is complete). */
  stream: Readable
}

/** Asks a peer's blob channel for `[offset, offset + length)` of a blob (to the end without a length). */
export async function fetchBlobRange(
  target: { host: string; port: number },
  key: Buffer,
  request: { digest: Digest; offset: number; length?: number; relayJoinedAt?: Stamp },
  signal?: AbortSignal,
): Promise<BlobRange> {
  const socket = tls.connect({
    host: target.host,
    port: target.port,
    ciphers: CIPHERS,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
    checkServerIdentity: () => undefined,
    pskCallback: () => ({ psk: key, identity: 'shoal' }),
  })
  const abort = (): void => {
    socket.destroy(new PullFailedError('blob transfer aborted'))
  }
  signal?.addEventListener('abort', abort, { once: true })
  socket.once('close', () => signal?.removeEventListener('abort', abort))
  socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy(new PullFailedError('blob peer timed out')))
  const header = await readHeader(socket, request).catch((err: Error) => {
    socket.destroy()
    // No answer at all (refused, reset, unreachable, timed out, TLS refused, closed first): the planner stops
    // asking this peer for the blob. An abort is the caller's own doing, and stays what it is.
    if (signal?.aborted === true || err instanceof BlobProtocolError) throw err
    throw new BlobPeerUnreachableError(
      `the blob channel of ${target.host}:${target.port} gave no answer: ${err.message}`,
      { cause: err },
    )
  })
  if (!header.ok) {
    socket.destroy()
    if (header.code === BlobNotFoundError.code)
      throw new BlobNotFoundError(header.message ?? 'blob not found')
    if (header.code === RelayOrderError.code) throw new RelayOrderError(header.message ?? 'relay order')
    if (header.code === BlobRangeInvalidError.code)
      throw new BlobRangeInvalidError(header.message ?? 'range past the end of the blob')
    if (header.code === BlobProtocolError.code)
      throw new BlobProtocolError(header.message ?? 'the blob peer could not read the request')
    throw new PullFailedError(header.message ?? 'blob peer refused')
  }
  return { size: header.size, length: header.length, stream: socket }
}

/** Sends the request once TLS is up and reads the one-line answer header (the bytes after it stay in the socket). */
function readHeader(socket: tls.TLSSocket, request: object): Promise<ResponseHeader> {
  return new Promise<ResponseHeader>((resolve, reject) => {
    let buffered = Buffer.alloc(0)
    const fail = (err: Error): void => {
      cleanup()
      reject(err)
    }
    const onEnd = (): void => fail(new PullFailedError('blob peer closed the connection before answering'))
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk])
      const newline = buffered.indexOf(10)
      if (newline < 0) {
        if (buffered.length > MAX_REQUEST_BYTES) fail(new BlobProtocolError('blob peer sent a bad header'))
        return
      }
      cleanup()
      socket.pause()
      const rest = buffered.subarray(newline + 1)
      if (rest.length > 0) socket.unshift(rest)
      try {
        resolve(JSON.parse(buffered.subarray(0, newline).toString('utf8')) as ResponseHeader)
      } catch (err) {
        // Only JSON.parse throws here: the header is not JSON.
        reject(new BlobProtocolError('blob peer sent a bad header', { cause: err }))
      }
    }
    const cleanup = (): void => {
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.off('error', fail)
    }
    socket.on('data', onData)
    socket.once('end', onEnd)
    socket.once('error', fail)
    socket.once('secureConnect', () => socket.write(`${JSON.stringify(request)}\n`))
  })
}
