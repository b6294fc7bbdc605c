import { writeFile } from 'node:fs/promises'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sendError } from '../../src/api/http.js'
import { Router } from '../../src/api/router.js'
import { findWebRoot, webRoutes } from '../../src/api/routes/web.js'
import type { StatsView, StatusView } from '../../src/api/types.js'
import { asShoalError, NotFoundError } from '../../src/errors.js'
import { cleanupDaemons, type DaemonProcess, runCli, spawnDaemon } from '../helpers/processes.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** A raw request: the path goes out exactly as written (fetch would normalise `..` away first). */
function get(
  base: string,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Answer> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      )
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

const errorCode = (answer: Answer): string =>
  (JSON.parse(answer.body.toString()) as { error: { code: string } }).error.code

/** The web routes alone on a loopback port, answering errors the way the API server does. */
async function serveRoutes(root: string): Promise<{ server: Server; base: string }> {
  const router = new Router().add(...webRoutes(root))
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x.invalid')
    const match = router.match(req.method ?? 'GET', url.pathname)
    try {
      if (match === undefined || 'methods' in match) throw new NotFoundError(`no route for ${url.pathname}`)
      await match.route.handle({ req, res, url, params: match.params, remote: true })
    } catch (err) {
      sendError(res, asShoalError(err))
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

describe('the web routes', () => {
  let dir: string
  let empty: string
  let built: { server: Server; base: string }
  let unbuilt: { server: Server; base: string }
  const html = `<!doctype html><title>t</title>${'<p>shoal</p>'.repeat(200)}`

  beforeAll(async () => {
    dir = await makeTempDir('shoal-web-')
    empty = await makeTempDir('shoal-web-empty-')
    await writeFile(join(dir, 'index.html'), html)
    await writeFile(join(dir, 'index.html.gz'), gzipSync(html))
    await writeFile(join(dir, 'app.js.map'), '{"version":3}')
    await writeFile(join(dir, 'logo-3F2A9C1D.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>')
    await writeFile(join(dir, 'notes.unknown-type'), 'not served')
    built = await serveRoutes(dir)
    unbuilt = await serveRoutes(empty)
  })
  afterAll(async () => {
    built.server.close()
    unbuilt.server.close()
    await removeDir(dir)
    await removeDir(empty)
  })

  it('serves the page at / as HTML that is revalidated by its ETag', async () => {
    const page = await get(built.base, '/')
    expect(page.status).toBe(200)
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.headers['cache-control']).toBe('no-cache')
    expect(page.headers['x-content-type-options']).toBe('nosniff')
    expect(page.body.toString()).toBe(html)
    const etag = page.headers.etag as string
    expect(etag).toMatch(/^"[\w-]+"$/)
    const again = await get(built.base, '/', { 'if-none-match': etag })
    expect(again.status).toBe(304)
    expect(again.body.length).toBe(0)
    const changed = await get(built.base, '/', { 'if-none-match': '"something-else"' })
    expect(changed.status).toBe(200)
  })

  it('sends the precompressed page to clients that take gzip, as its own representation', async () => {
    const page = await get(built.base, '/', { 'accept-encoding': 'br, gzip' })
    expect(page.headers['content-encoding']).toBe('gzip')
    expect(page.headers.vary).toBe('accept-encoding')
    expect(gunzipSync(page.body).toString()).toBe(html)
    expect(page.headers.etag).not.toBe((await get(built.base, '/')).headers.etag)
  })

  it('answers HEAD with the headers only', async () => {
    const head = await get(built.base, '/', {}, 'HEAD')
    expect(head.status).toBe(200)
    expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(html))
    expect(head.body.length).toBe(0)
  })

  it('serves other built files under /web/ with their types; hashed names are cached for good', async () => {
    const map = await get(built.base, '/web/app.js.map')
    expect(map.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(map.body.toString()).toBe('{"version":3}')
    const logo = await get(built.base, '/web/logo-3F2A9C1D.svg')
    expect(logo.headers['content-type']).toBe('image/svg+xml')
    expect(logo.headers['cache-control']).toBe('public, max-age=31536000, immutable')
  })

  it.each([
    '/web/../../package.json',
    '/web/..%2f..%2fpackage.json',
    '/web/%2e%2e/%2e%2e/package.json',
    '/web/..%5c..%5cpackage.json',
    '/web//etc/passwd',
    '/web/index.html.gz',
    '/web/notes.unknown-type',
    '/web/missing.js',
  ])('answers %s with 404 and a code, never a file outside the build', async (path) => {
    const answer = await get(built.base, path)
    expect(answer.status).toBe(404)
    expect(errorCode(answer)).toBe('SHOAL_NOT_FOUND')
    expect(answer.body.toString()).not.toContain('"name"')
  })

  it('says the page is not built when there is no index.html', async () => {
    const answer = await get(unbuilt.base, '/')
    expect(answer.status).toBe(404)
    expect(errorCode(answer)).toBe('SHOAL_NOT_FOUND')
    expect(answer.body.toString()).toContain('npm run build')
  })

  it("finds the package's dist/web from its own source file", () => {
    expect(findWebRoot()).toBe(join(import.meta.dirname, '..', '..', 'dist', 'web'))
  })
})

describe('a daemon serves its web page and stats', () => {
  let daemon: DaemonProcess

  beforeAll(async () => {
    daemon = await spawnDaemon({ name: 'web-serve' })
  })
  afterAll(cleanupDaemons)

  it('serves the built page at / on its HTTP port, with a content security policy', async () => {
    const page = await get(daemon.status.httpUrl, '/')
    expect(page.status).toBe(200)
    const text = page.body.toString()
    expect(text).toMatch(/^<!doctype html>/)
    expect(text).toContain('<div id="app">')
    expect(text).toMatch(
      /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'sha256-/,
    )
    // Self-contained: nothing to fetch before the first paint, nothing from elsewhere at all.
    expect(text).not.toMatch(
      /<script[^>]+src=|<link[^>]+stylesheet|(src|href)=["']?https?:|url\(['"]?https?:/,
    )
  })

  it('`shoal web` prints the URL of the page', async () => {
    const result = await runCli(['web', '--data-dir', daemon.dataDir])
    expect(result.code).toBe(0)
    expect(result.stdout.trim()).toBe(`${daemon.status.httpUrl}/`)
    const json = await runCli(['web', '--json', '--data-dir', daemon.dataDir])
    expect(JSON.parse(json.stdout)).toEqual({ url: `${daemon.status.httpUrl}/` })
  })

  it('GET /v1/stats returns samples of counters and cluster resources, and only newer ones after ?since', async () => {
    const first = (await (await fetch(`${daemon.status.httpUrl}/v1/stats`)).json()) as StatsView
    expect(first.intervalMs).toBeGreaterThan(0)
    expect(first.samples.length).toBeGreaterThanOrEqual(1)
    const last = first.samples.at(-1)!
    expect(last.cluster.nodes).toBe(1)
    expect(last.cluster.cpus).toBeGreaterThan(0)
    expect(last.cluster.memoryTotal).toBeGreaterThan(last.cluster.memoryUsed)
    expect(last.gossip.messagesOut).toBeGreaterThanOrEqual(0)
    expect(last.processCpuSeconds).toBeGreaterThan(0)
    expect(Object.keys(last.layerBytes).sort()).toEqual(['local', 'origin', 'peer'])
    // Asked again at once: no new sample is due, and nothing is newer than the last one.
    const since = (await (
      await fetch(`${daemon.status.httpUrl}/v1/stats?since=${encodeURIComponent(last.at)}`)
    ).json()) as StatsView
    expect(since.samples).toEqual([])
    const bad = await fetch(`${daemon.status.httpUrl}/v1/stats?since=yesterday`)
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('SHOAL_BAD_REQUEST')
  })

  it('status names the HTTP URL the page is served on', async () => {
    const status = (await (await fetch(`${daemon.status.httpUrl}/v1/status`)).json()) as StatusView
    expect(status.httpUrl).toBe(daemon.status.httpUrl)
  })
})
