// Job logs: files on the node that ran the job, read locally or streamed to other nodes over LOGS_PROTOCOL.
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { z } from 'zod'
import {
  asShoalError,
  LogProtocolError,
  LogStreamClosedError,
  LogsUnavailableError,
  ShoalError,
} from '../errors.js'
import type { Mesh } from '../mesh/index.js'
import { LOG_FOLLOW_POLL_MS, LOGS_PROTOCOL, MAX_LOG_FRAME_BYTES } from './constants.js'

/** Where an attempt's log lives in the data directory. */
export function logPathOf(dataDir: string, jobId: string, attempt: number): string {
  return join(jobDirOf(dataDir, jobId), `${attempt}.log`)
}

/** Where a job's logs and working directory live on the nodes that ran it. */
export function jobDirOf(dataDir: string, jobId: string): string {
  return join(dataDir, 'jobs', jobId)
}

/**
 * The bytes of a log file; with `follow`, keeps reading as it grows while `running()` says the attempt
 * runs, and ends once it has ended and everything written has been read.
 */
export async function* readLog(
  path: string,
  options: { follow: boolean; running: () => boolean; signal?: AbortSignal },
): AsyncGenerator<Uint8Array> {
  const file = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new LogsUnavailableError(`no log at ${path} on this node`)
    throw err
  })
  try {
    const buffer = Buffer.alloc(64 * 1024)
    let offset = 0
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, offset)
      if (bytesRead > 0) {
        offset += bytesRead
        yield Uint8Array.prototype.slice.call(buffer, 0, bytesRead)
        continue
      }
      if (!options.follow || options.signal?.aborted === true) return
      const wasRunning = options.running()
      if (!wasRunning) {
        // One last read after it ended: anything written before the end is in the file now.
        const last = await file.read(buffer, 0, buffer.length, offset)
        if (last.bytesRead === 0) return
        offset += last.bytesRead
        yield Uint8Array.prototype.slice.call(buffer, 0, last.bytesRead)
        continue
      }
      await sleep(LOG_FOLLOW_POLL_MS, undefined, { signal: options.signal }).catch((err: Error) => {
        // Aborted: the reader went away, and the loop ends at its next turn.
        if (err.name !== 'AbortError') throw err
      })
    }
  } finally {
    await file.close()
  }
}

const requestSchema = z.strictObject({
  /** A job id, or `<service>/<slot>` on the service log protocol. */
  id: z.string().max(128),
  attempt: z.number().int().min(1),
  follow: z.boolean(),
})
export type LogRequest = z.infer<typeof requestSchema>

const headerSchema = z.union([
  z.object({ ok: z.literal(true) }),
  z.object({ error: z.object({ code: z.string(), message: z.string() }) }),
])

/** Serves log requests from other nodes. `open` gives the log of an attempt this node ran, or throws. */
export async function serveLogs(
  mesh: Pick<Mesh, 'handle'>,
  open: (request: LogRequest, signal: AbortSignal) => AsyncGenerator<Uint8Array>,
  protocol = LOGS_PROTOCOL,
): Promise<void> {
  await mesh.handle(
    protocol,
    async (stream: Stream) => {
      const controller = new AbortController()
      stream.addEventListener('close', () => controller.abort())
      const lp = lpStream(stream, { maxDataLength: MAX_LOG_FRAME_BYTES })
      const encoder = new TextEncoder()
      const parsed = requestSchema.safeParse(decodeJson(await lp.read(), 'log request'))
      if (!parsed.success) throw new LogProtocolError('malformed log request')
      let chunks: AsyncGenerator<Uint8Array>
      try {
        chunks = open(parsed.data, controller.signal)
        const first = await chunks.next()
        await lp.write(encoder.encode(JSON.stringify({ ok: true })))
        if (first.done !== true) await lp.write(first.value)
      } catch (err) {
        const error = asShoalError(err).toJSON()
        await lp.write(encoder.encode(JSON.stringify({ error })))
        await stream.close()
        return
      }
      for await (const chunk of chunks) await lp.write(chunk)
      await stream.close()
    },
    { maxInboundStreams: 64 },
  )
}

/** Reads another node's log of an attempt over the mesh. */
export async function* fetchLogs(
  mesh: Pick<Mesh, 'openStream'>,
  peer: string,
  request: LogRequest,
  signal: AbortSignal,
  protocol = LOGS_PROTOCOL,
): AsyncGenerator<Uint8Array> {
  let stream: Stream
  try {
    stream = await mesh.openStream(peer, protocol, { signal })
  } catch (err) {
    throw new LogsUnavailableError(
      `cannot reach the node that ran this job (${peer}): ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
  const lp = lpStream(stream, { maxDataLength: MAX_LOG_FRAME_BYTES })
  try {
    await lp.write(new TextEncoder().encode(JSON.stringify(request)), { signal })
    const header = headerSchema.safeParse(decodeJson(await lp.read({ signal }), 'log header'))
    if (!header.success)
      throw new LogProtocolError(`the node that ran this job (${peer}) sent a malformed log header`)
    // The other node's error, code and all, as if it had happened here.
    if ('error' in header.data) throw new ShoalError(header.data.error.code, header.data.error.message)
    for (;;) {
      const chunk = await lp.read({ signal }).catch((err: Error & { name?: string }) => {
        if (err.name === 'UnexpectedEOFError' || /end of stream|EOF/i.test(err.message)) return undefined
        throw err
      })
      if (chunk === undefined) return
      yield chunk.subarray()
    }
  } finally {
    if (stream.status === 'open') stream.abort(new LogStreamClosedError('log reader done'))
  }
}

/** A frame as JSON; a frame that is not JSON is the peer breaking the protocol. */
function decodeJson(frame: { subarray(): Uint8Array }, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(frame.subarray()))
  } catch (err) {
    throw new LogProtocolError(`the ${what} is not JSON`, { cause: err })
  }
}
