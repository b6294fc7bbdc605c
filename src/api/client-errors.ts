// Answers requests node:http cannot parse or that arrive too slowly: a JSON error and a closed socket, never a hang.
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { BadRequestError, HeadersTooLargeError, RequestTimeoutError, type ShoalError } from '../errors.js'
import { statusOf } from './status.js'

const CLOSE_AFTER_MS = 1_000

/** The error a client's malformed or late request stands for, by the code node:http gives it. */
export function clientErrorOf(err: NodeJS.ErrnoException): ShoalError {
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return new HeadersTooLargeError('the request line and headers are larger than the server reads')
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new RequestTimeoutError('the request did not arrive in time')
  }
  return new BadRequestError(`the request is not valid HTTP (${err.code ?? err.message})`)
}

/**
 * A server's `clientError` handler. Node's own answers with a bare status line; this one answers with the
 * API's JSON error body, then closes. A socket already answering (or gone) is only destroyed.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const answering = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage
  if (err.code === 'ECONNRESET' || !socket.writable || answering?.headersSent === true) {
    socket.destroy()
    return
  }
  const error = clientErrorOf(err)
  const status = statusOf(error)
  const json = JSON.stringify({ error: { code: error.code, message: error.message } })
  // An answer to HEAD has no body (its client would read one as garbage). The request line is in the packet
  // node could not parse whenever the request arrived in one piece, as a 431's oversized headers do.
  const rawPacket = (err as { rawPacket?: unknown }).rawPacket
  const head = Buffer.isBuffer(rawPacket) && rawPacket.subarray(0, 5).toString('latin1') === 'HEAD '
  // Destroyed once the answer is out, or after a moment if the client does not take it.
  setTimeout(() => socket.destroy(), CLOSE_AFTER_MS).unref()
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'content-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(json)}\r\n` +
      'cache-control: no-store\r\n' +
      'connection: close\r\n\r\n' +
      (head ? '' : json),
    () => socket.destroy(),
  )
}
