// Small HTTP helpers: JSON responses, errors as { error: { code, message } }, bounded JSON bodies.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { BadRequestError, RecordTooLargeError, type ShoalError } from '../errors.js'
import type { ApiContext } from './context.js'
import { statusOf } from './status.js'

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  })
  res.end(text)
}

export function sendError(res: ServerResponse, err: ShoalError): void {
  if (res.headersSent) {
    res.destroy(err)
    return
  }
  sendJson(res, statusOf(err), { error: { code: err.code, message: err.message } })
}

/**
 * Reads a JSON body of at most `limit` bytes. Past the limit it stops keeping the bytes but leaves the request
 * flowing, so that node:http discards the rest and the client, still sending, reads the 413 instead of a reset
 * (the request timeout bounds how long it may go on sending).
 */
export function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size <= limit) {
        chunks.push(chunk)
        return
      }
      req.off('data', onData)
      req.off('end', onEnd)
      req.resume()
      chunks.length = 0
      reject(new RecordTooLargeError(`request body is larger than ${limit} bytes`))
    }
    const onEnd = (): void => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      } catch (err) {
        reject(new BadRequestError('request body is not valid JSON', { cause: err }))
      }
    }
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', reject)
  })
}

export function queryFlag(url: URL, name: string): boolean {
  const value = url.searchParams.get(name)
  return value !== null && value !== '0' && value !== 'false'
}

/** `?node=` as a peer id, name or id tail, resolved like `shoal node show`; undefined if absent or empty. */
export function nodeParam(ctx: ApiContext, url: URL): string | undefined {
  const ref = url.searchParams.get('node')
  return ref === null || ref === '' ? undefined : ctx.membership.node(ref).id
}
