// The web page on the HTTP port: GET / (the page) and GET /web/<file> (the rest of dist/web), served from memory.
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NotFoundError } from '../../errors.js'
import type { Route, RouteContext } from '../router.js'

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
}

/** Names with a content hash (`app-3F2A9C1D.js`) never change; everything else is revalidated by its ETag. */
const HASHED_NAME = /-[A-Z0-9]{8}\.[a-z0-9.]+$/

interface StaticFile {
  body: Buffer
  /** Precompressed by the build (`<name>.gz`), when it saves anything. */
  gzip: Buffer | undefined
  contentType: string
  etag: string
  cacheControl: string
}

/** The package's dist/web, found from this module: dist/chunks/*.js when bundled, src/api/routes/ under tsx. */
export function findWebRoot(from = fileURLToPath(import.meta.url)): string | undefined {
  for (let dir = dirname(from); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'dist')))
      return join(dir, 'dist', 'web')
  }
  return undefined
}

/**
 * Every file of dist/web, read once at the first request. URLs are looked up in this table and never turned
 * into file system paths, so no request can reach a file outside it (`..`, encoded slashes, symlinks).
 */
async function loadFiles(root: string): Promise<Map<string, StaticFile>> {
  const files = new Map<string, StaticFile>()
  const names = (await readdir(root)).sort()
  for (const name of names) {
    if (name.endsWith('.gz')) continue
    const contentType = CONTENT_TYPES[extname(name)]
    if (contentType === undefined) continue
    const body = await readFile(join(root, name))
    const gzip = names.includes(`${name}.gz`) ? await readFile(join(root, `${name}.gz`)) : undefined
    files.set(name, {
      body,
      gzip: gzip !== undefined && gzip.length < body.length ? gzip : undefined,
      contentType,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      cacheControl: HASHED_NAME.test(name) ? 'public, max-age=31536000, immutable' : 'no-cache',
    })
  }
  return files
}

/** `root` is the directory to serve; by default the package's dist/web. */
export function webRoutes(root = findWebRoot()): Route[] {
  let table: Promise<Map<string, StaticFile>> | undefined
  const files = async (): Promise<Map<string, StaticFile>> => {
    if (root === undefined || !existsSync(join(root, 'index.html'))) {
      throw new NotFoundError('the web page is not built (no dist/web/index.html): run "npm run build"')
    }
    table ??= loadFiles(root)
    try {
      return await table
    } catch (err) {
      // A build replacing dist/web under us: read it again next time rather than keep the failure.
      table = undefined
      throw err
    }
  }
  const serve = async ({ req, res, params }: RouteContext, name: string): Promise<void> => {
    const file = (await files()).get(name)
    if (file === undefined) throw new NotFoundError(`the web page has no file ${params['*'] ?? name}`)
    sendFile(res, file, req.method === 'HEAD', req.headers['if-none-match'], req.headers['accept-encoding'])
  }
  const page = (ctx: RouteContext): Promise<void> => serve(ctx, 'index.html')
  const asset = (ctx: RouteContext): Promise<void> => serve(ctx, ctx.params['*'] ?? '')
  return [
    { method: 'GET', path: '/', handle: page },
    { method: 'HEAD', path: '/', handle: page },
    { method: 'GET', path: '/web/*', handle: asset },
    { method: 'HEAD', path: '/web/*', handle: asset },
  ]
}

function sendFile(
  res: ServerResponse,
  file: StaticFile,
  head: boolean,
  ifNoneMatch: string | undefined,
  acceptEncoding: string | undefined,
): void {
  const gzip = file.gzip !== undefined && /\bgzip\b/.test(acceptEncoding ?? '') ? file.gzip : undefined
  // Each encoding is its own representation, with its own ETag.
  const etag = gzip === undefined ? file.etag : `${file.etag.slice(0, -1)}-gz"`
  const headers: Record<string, string | number> = {
    'content-type': file.contentType,
    'cache-control': file.cacheControl,
    etag,
    vary: 'accept-encoding',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  }
  const matches = ifNoneMatch?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag) === true
  if (matches) {
    res.writeHead(304, headers)
    res.end()
    return
  }
  const body = gzip ?? file.body
  if (gzip !== undefined) headers['content-encoding'] = 'gzip'
  headers['content-length'] = body.length
  res.writeHead(200, headers)
  res.end(head ? undefined : body)
}
