// A route table: method + path pattern (`/v1/nodes/:id`) → handler, and which listeners may serve it.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { BadRequestError } from '../errors.js'

export interface RouteContext {
  req: IncomingMessage
  res: ServerResponse
  url: URL
  params: Record<string, string>
  /** True when the request came over TCP rather than the owner-only unix socket. */
  remote: boolean
}

/** A path ending in `/*` matches any deeper path too; the rest is in `params['*']`. */
export interface Route {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE'
  path: string
  /** Routes that change anything are served only on the unix socket. */
  socketOnly?: boolean
  handle(ctx: RouteContext): void | Promise<void>
}

export interface RouteMatch {
  route: Route
  params: Record<string, string>
}

export class Router {
  private readonly routes: Array<{ route: Route; segments: string[] }> = []

  add(...routes: Route[]): this {
    for (const route of routes) this.routes.push({ route, segments: route.path.split('/').filter(Boolean) })
    return this
  }

  /** The route for a path, or `methods` listing which methods the path does support. */
  match(method: string, pathname: string): RouteMatch | { methods: string[] } | undefined {
    const parts = pathname.split('/').filter(Boolean)
    const methods: string[] = []
    for (const { route, segments } of this.routes) {
      const params = matchSegments(segments, parts)
      if (params === undefined) continue
      if (route.method === method) return { route, params }
      methods.push(route.method)
    }
    return methods.length > 0 ? { methods } : undefined
  }
}

function matchSegments(segments: string[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {}
  if (segments.at(-1) === '*') {
    if (parts.length < segments.length - 1) return undefined
    const head = matchSegments(segments.slice(0, -1), parts.slice(0, segments.length - 1))
    if (head === undefined) return undefined
    return { ...head, '*': parts.slice(segments.length - 1).join('/') }
  }
  if (segments.length !== parts.length) return undefined
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!
    const part = parts[i]!
    if (segment.startsWith(':')) params[segment.slice(1)] = decodePathPart(part)
    else if (segment !== part) return undefined
  }
  return params
}

/** A path parameter, percent-decoded; a malformed escape (`%E0%A4%A`) is the client's error, not ours. */
function decodePathPart(part: string): string {
  try {
    return decodeURIComponent(part)
  } catch (err) {
    if (err instanceof URIError) throw new BadRequestError(`malformed percent-escape in the path: ${part}`)
    throw err
  }
}
