// Requests to the daemon that served the page: JSON reads, streamed text, the event stream; the token if any.
import type { ErrorBody } from './types.js'

/** An error the API answered with (`{ error: { code, message } }`), or SHOAL_UNREACHABLE when none came. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

/** Off loopback the daemon wants its token: the page is opened as /?token=…, and passes it on to every request. */
const token = new URLSearchParams(globalThis.location?.search ?? '').get('token')

export function apiUrl(path: string): string {
  if (token === null) return path
  return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`
}

async function request(path: string, signal?: AbortSignal): Promise<Response> {
  let res: Response
  try {
    res = await fetch(apiUrl(path), { signal, headers: { accept: 'application/json' } })
  } catch (err) {
    if (signal?.aborted === true) throw err
    throw new ApiError('SHOAL_UNREACHABLE', `the daemon did not answer: ${(err as Error).message}`, 0)
  }
  if (res.ok) return res
  const body = (await res.json().catch(() => undefined)) as ErrorBody | undefined
  throw new ApiError(
    body?.error?.code ?? `HTTP_${res.status}`,
    body?.error?.message ?? `${res.status} ${res.statusText}`,
    res.status,
  )
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await (await request(path, signal)).json()) as T
}

/** Reads a text answer as it arrives (job logs with ?follow=1), handing each decoded chunk to `onText`. */
export async function streamText(
  path: string,
  onText: (text: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const res = await request(path, signal)
  if (res.body === null) return
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return
    onText(value)
  }
}
