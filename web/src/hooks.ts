// Preact hooks shared by the views: reading an API path again when the data behind it moves.
import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, getJson } from './api.js'

export interface Fetched<T> {
  data: T | undefined
  error: ApiError | undefined
  /** True until the first answer for this path. */
  loading: boolean
}

/**
 * GETs `path`, and again whenever `version` moves — at most once per `settleMs`, so that a burst of changes
 * (a thousand jobs submitted at once) costs a few reads, not one per change. The last data stays on screen
 * while a new read is under way; a new path starts afresh.
 */
export function useApi<T>(path: string | null, version = 0, settleMs = 300): Fetched<T> {
  const [state, setState] = useState<Fetched<T> & { path: string | null }>({
    data: undefined,
    error: undefined,
    loading: true,
    path,
  })
  const inFlight = useRef<AbortController | undefined>(undefined)
  const lastRead = useRef(0)

  const read = (target: string): void => {
    inFlight.current?.abort()
    const controller = new AbortController()
    inFlight.current = controller
    lastRead.current = Date.now()
    getJson<T>(target, controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ data, error: undefined, loading: false, path: target })
      },
      (err: unknown) => {
        if (controller.signal.aborted) return
        const error = err instanceof ApiError ? err : new ApiError('SHOAL_UNREACHABLE', String(err), 0)
        setState((previous) => ({ ...previous, error, loading: false, path: target }))
      },
    )
  }

  useEffect(() => {
    if (path === null) return
    setState({ data: undefined, error: undefined, loading: true, path })
    read(path)
    return () => inFlight.current?.abort()
  }, [path])

  useEffect(() => {
    if (path === null || version === 0) return
    const wait = Math.max(0, lastRead.current + settleMs - Date.now())
    const timer = setTimeout(() => read(path), wait)
    return () => clearTimeout(timer)
  }, [version])

  return state.path === path ? state : { data: undefined, error: undefined, loading: true }
}
