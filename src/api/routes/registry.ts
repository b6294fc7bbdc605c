// The read-only registry mirror on the HTTP port: GET/HEAD /v2/, manifests and blobs, resolved through the mesh.
import type { ServerResponse } from 'node:http'
import { pipeline } from 'node:stream/promises'
import { asShoalError, BlobNotFoundError, ManifestNotFoundError, MirrorBusyError } from '../../errors.js'
import { parseDigest } from '../../layers/index.js'
import type { ApiContext } from '../context.js'
import type { Route, RouteContext } from '../router.js'
import { statusOf } from '../status.js'

/** Errors in the distribution API's own shape, which docker and other clients read. */
function registryError(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ errors: [{ code, message }] })
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

const API_VERSION = { 'docker-distribution-api-version': 'registry/2.0' }

/**
 * Manifest and blob requests served at once; beyond this the mirror answers 429 TOOMANYREQUESTS until one
 * ends. Each holds a file open and a socket busy (with --mirror-pull, perhaps a pull): Docker downloads three
 * layers at a time per client, so 32 serves ten clients at once and keeps a flood from taking every descriptor.
 */
export const MAX_MIRROR_REQUESTS = 32

/** A blob download whose client takes no bytes for this long is ended, so it gives its place back. */
export const MIRROR_STALL_MS = 30_000

/** The distribution API's codes for shoal's errors that clients act on. */
const REGISTRY_CODES: ReadonlyMap<string, string> = new Map([
  [ManifestNotFoundError.code, 'MANIFEST_UNKNOWN'],
  [BlobNotFoundError.code, 'BLOB_UNKNOWN'],
  [MirrorBusyError.code, 'TOOMANYREQUESTS'],
])

export function registryRoutes(ctx: ApiContext): Route[] {
  const base = ({ req, res }: RouteContext): void => {
    res.writeHead(200, { ...API_VERSION, 'content-type': 'application/json', 'content-length': 2 })
    res.end(req.method === 'HEAD' ? undefined : '{}')
  }
  let inFlight = 0
  const content = async (routeCtx: RouteContext): Promise<void> => {
    if (inFlight >= MAX_MIRROR_REQUESTS) {
      const busy = new MirrorBusyError(`the mirror is serving ${MAX_MIRROR_REQUESTS} requests; retry shortly`)
      routeCtx.res.setHeader('retry-after', '1')
      registryError(routeCtx.res, statusOf(busy), REGISTRY_CODES.get(busy.code) ?? busy.code, busy.message)
      return
    }
    inFlight++
    try {
      await serveContent(ctx, routeCtx)
    } finally {
      inFlight--
    }
  }
  return [
    { method: 'GET', path: '/v2', handle: base },
    { method: 'HEAD', path: '/v2', handle: base },
    { method: 'GET', path: '/v2/*', handle: content },
    { method: 'HEAD', path: '/v2/*', handle: content },
  ]
}

async function serveContent(ctx: ApiContext, { req, res, params }: RouteContext): Promise<void> {
  const head = req.method === 'HEAD'
  const match = /^(.+)\/(manifests|blobs)\/([^/]+)$/.exec(params['*'] ?? '')
  if (match === null) {
    registryError(res, 404, 'NAME_UNKNOWN', 'not a manifest or blob path')
    return
  }
  const [, name, what, reference] = match as unknown as [string, string, string, string]
  try {
    if (what === 'manifests') {
      const manifest = await ctx.layers.mirrorManifest(name, reference)
      res.writeHead(200, {
        ...API_VERSION,
        'content-type': manifest.mediaType,
        'content-length': manifest.bytes.length,
        'docker-content-digest': manifest.digest,
      })
      res.end(head ? undefined : manifest.bytes)
      return
    }
    const digest = parseDigest(reference)
    const blob = ctx.layers.store.get(digest)
    if (blob === undefined) throw new BlobNotFoundError(`no blob ${digest} here`)
    res.writeHead(200, {
      ...API_VERSION,
      'content-type': 'application/octet-stream',
      'content-length': blob.size,
      'docker-content-digest': digest,
    })
    if (head) {
      res.end()
      return
    }
    res.setTimeout(MIRROR_STALL_MS, () => res.destroy())
    await pipeline(ctx.layers.store.read(digest), res)
  } catch (err) {
    const error = asShoalError(err)
    if (res.headersSent) {
      res.destroy(error)
      return
    }
    registryError(res, statusOf(error), REGISTRY_CODES.get(error.code) ?? error.code, error.message)
  }
}
