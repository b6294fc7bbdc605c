// Raw HTTP requests to a daemon's API over its unix socket or TCP, with any Host, Origin or body a test wants.
import { request } from 'node:http'
import { connect } from 'node:net'

export interface ApiAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

export interface ApiRequest {
  method?: string
  path: string
  headers?: Record<string, string>
  body?: string | Buffer
  /** Send no Host header at all. */
  noHost?: boolean
}

/** Where a request goes: the daemon's socket (`{ socketPath }`) or its TCP listener (`{ httpUrl }`). */
export type ApiTarget = { socketPath: string } | { httpUrl: string }

export function apiRequest(
  target: ApiTarget,
  { method = 'GET', path, headers = {}, body, noHost = false }: ApiRequest,
) {
  const where =
    'socketPath' in target
      ? { socketPath: target.socketPath }
      : { host: new URL(target.httpUrl).hostname, port: Number(new URL(target.httpUrl).port) }
  return new Promise<ApiAnswer>((resolve, reject) => {
    const req = request({ ...where, method, path, headers, agent: false, setHost: !noHost }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      )
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** The `error.code` of an API error answer, or undefined if the body is not `{ error: { code, message } }`. */
export function errorCodeOf(answer: ApiAnswer): string | undefined {
  try {
    const body = JSON.parse(answer.body) as { error?: { code?: unknown; message?: unknown } }
    const { code, message } = body.error ?? {}
    return typeof code === 'string' && typeof message === 'string' ? code : undefined
  } catch (err) {
    if (err instanceof SyntaxError) return undefined
    throw err
  }
}

/**
 * Writes raw bytes to a listener and collects whatever comes back until the server closes the connection.
 * The client's side stays open after writing (as a slowloris client's would): only the server can end it.
 */
export function rawExchange(
  target: { socketPath: string } | { host: string; port: number },
  bytes: string | Buffer,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = 'socketPath' in target ? connect(target.socketPath) : connect(target.port, target.host)
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The server may reset a connection it refused once it answered: what it sent is the result.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') resolve(Buffer.concat(chunks).toString('latin1'))
      else reject(err)
    })
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
    socket.write(bytes)
  })
}

/** The status code and JSON body of a raw HTTP answer. */
export function parseRawAnswer(raw: string): { status: number; body: string } {
  const match = /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n[\s\S]*?\r\n\r\n([\s\S]*)$/.exec(raw)
  if (match === null) throw new Error(`not an HTTP answer: ${JSON.stringify(raw.slice(0, 200))}`)
  return { status: Number(match[1]), body: match[2]! }
}
