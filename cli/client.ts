// The CLI's only way to the daemon: JSON over HTTP on <data-dir>/shoal.sock.
import { request } from 'node:http'
import { dataDirPaths } from '../src/daemon/data-dir.js'
import { BadResponseError, DaemonUnreachableError, ShoalError } from '../src/errors.js'

export interface ApiClient {
  readonly dataDir: string
  get<T>(path: string): Promise<T>
  post<T>(path: string, body: unknown): Promise<T>
  put<T>(path: string, body: unknown): Promise<T>
  delete<T>(path: string): Promise<T>
  /** POSTs and hands each line of a JSON-lines answer to `onLine` as it arrives. */
  stream(path: string, body: unknown, onLine: (value: unknown) => void): Promise<void>
  /** GETs a byte stream (a job's or a service's log), handing each chunk to `onChunk` as it arrives. */
  getBytes(path: string, onChunk: (chunk: Buffer) => void): Promise<void>
}

export function createClient(dataDir: string): ApiClient {
  const socketPath = dataDirPaths(dataDir).socket
  const call = <T>(method: string, path: string, body?: unknown): Promise<T> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body)
      const req = request(
        {
          socketPath,
          method,
          path,
          headers:
            payload === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('error', reject)
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8')
            let json: unknown
            try {
              json = JSON.parse(text)
            } catch (err) {
              reject(
                new BadResponseError(`the daemon answered ${res.statusCode} with non-JSON`, { cause: err }),
              )
              return
            }
            const error = (json as { error?: { code?: unknown; message?: unknown } }).error
            if ((res.statusCode ?? 500) >= 400 && error !== undefined) {
              reject(new ShoalError(String(error.code), String(error.message)))
              return
            }
            resolve(json as T)
          })
        },
      )
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
          reject(
            new DaemonUnreachableError(`no shoal daemon is running for data directory ${dataDir}`, {
              cause: err,
            }),
          )
        } else {
          reject(err)
        }
      })
      req.end(payload)
    })
  const unreachable = (err: NodeJS.ErrnoException): Error =>
    err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
      ? new DaemonUnreachableError(`no shoal daemon is running for data directory ${dataDir}`, { cause: err })
      : err
  const stream = (path: string, body: unknown, onLine: (value: unknown) => void): Promise<void> =>
    new Promise((resolve, reject) => {
      const payload = JSON.stringify(body)
      const req = request(
        {
          socketPath,
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          let buffered = ''
          const chunks: string[] = []
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => {
            if ((res.statusCode ?? 500) >= 400) {
              chunks.push(chunk)
              return
            }
            buffered += chunk
            let newline = buffered.indexOf('\n')
            while (newline >= 0) {
              const line = buffered.slice(0, newline)
              buffered = buffered.slice(newline + 1)
              if (line.length > 0) onLine(JSON.parse(line))
              newline = buffered.indexOf('\n')
            }
          })
          res.on('error', reject)
          res.on('end', () => {
            if ((res.statusCode ?? 500) < 400) return resolve()
            const error = (
              JSON.parse(chunks.join('') || '{}') as { error?: { code?: string; message?: string } }
            ).error
            reject(new ShoalError(String(error?.code), String(error?.message)))
          })
        },
      )
      req.on('error', (err: NodeJS.ErrnoException) => reject(unreachable(err)))
      req.end(payload)
    })
  const getBytes = (path: string, onChunk: (chunk: Buffer) => void): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = request({ socketPath, method: 'GET', path }, (res) => {
        const failed = (res.statusCode ?? 500) >= 400
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => (failed ? chunks.push(chunk) : onChunk(chunk)))
        res.on('error', reject)
        res.on('end', () => {
          if (!failed) return resolve()
          const text = Buffer.concat(chunks).toString('utf8')
          const error = (JSON.parse(text || '{}') as { error?: { code?: string; message?: string } }).error
          reject(new ShoalError(String(error?.code), String(error?.message)))
        })
      })
      req.on('error', (err: NodeJS.ErrnoException) => reject(unreachable(err)))
      req.end()
    })
  return {
    dataDir,
    getBytes,
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
    put: (path, body) => call('PUT', path, body),
    delete: (path) => call('DELETE', path),
    stream,
  }
}
