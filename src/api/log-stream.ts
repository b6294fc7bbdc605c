// A log answered as a byte stream (job and service logs): the first chunk before the headers, then as it comes.
import type { ServerResponse } from 'node:http'
import { asShoalError } from '../errors.js'

/**
 * Streams what `open` yields. It gets a signal aborted when the client goes away. The first chunk is awaited
 * before the headers, so that a log that cannot be read is a JSON error rather than a 200 cut short.
 */
export async function sendLogStream(
  res: ServerResponse,
  open: (signal: AbortSignal) => AsyncGenerator<Uint8Array>,
): Promise<void> {
  const controller = new AbortController()
  res.on('close', () => controller.abort())
  const chunks = open(controller.signal)
  const first = await chunks.next()
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
  if (first.done !== true) res.write(first.value)
  try {
    for await (const chunk of chunks) {
      // A client gone while the socket is full never drains: the abort (on close) ends the wait.
      if (!res.write(chunk)) await drainOrAbort(res, controller.signal)
      if (controller.signal.aborted) break
    }
  } catch (err) {
    if (!controller.signal.aborted) res.write(`\nshoal: the log stream broke: ${asShoalError(err).message}\n`)
  }
  res.end()
}

function drainOrAbort(res: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done)
      signal.removeEventListener('abort', done)
      resolve()
    }
    res.once('drain', done)
    signal.addEventListener('abort', done, { once: true })
  })
}
