import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser } from 'playwright-core'
import { chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { CHROMIUM, launchChromium } from './browser.js'

/**
 * A real browser against the TCP listener: a name rebound to 127.0.0.1 (Chromium's resolver rules stand for the
 * attacker's DNS) and a page on another origin posting to the API get refused; the daemon's own page does not.
 */
describe('the local API seen from a browser', () => {
  let node: TestNode
  let browser: Browser
  let rebindingBrowser: Browser
  let evil: Server
  let apiUrl: string
  let evilUrl: string

  beforeAll(async () => {
    node = await startNode({ name: 'browser-api' })
    apiUrl = node.daemon.api.httpUrl
    browser = await launchChromium()
    rebindingBrowser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
        '--host-resolver-rules=MAP rebound.example 127.0.0.1',
      ],
    })
    // Another origin: a page that tries to write to the API.
    evil = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end('<!doctype html><title>evil</title>')
    })
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve))
    evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await browser?.close()
    await rebindingBrowser?.close()
    await new Promise<void>((resolve) => (evil === undefined ? resolve() : evil.close(() => resolve())))
    await destroyNodes(node === undefined ? [] : [node])
  })

  it('refuses a page reached through a name rebound to loopback (421 SHOAL_BAD_HOST)', async () => {
    const page = await rebindingBrowser.newPage()
    const port = new URL(apiUrl).port
    const response = await page.goto(`http://rebound.example:${port}/v1/status`)
    if (response === null) throw new Error('no response to the rebound name')
    expect(response.status()).toBe(421)
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('SHOAL_BAD_HOST')
    // The same browser reaches the page by its loopback address.
    expect((await page.goto(`${apiUrl}/`))?.status()).toBe(200)
    await page.close()
  })

  it('refuses a write from a page of another origin (403 SHOAL_CROSS_ORIGIN)', async () => {
    const page = await browser.newPage()
    await page.goto(evilUrl)
    const answered = page.waitForResponse((response) => response.url() === `${apiUrl}/v1/jobs`)
    // A "simple" no-cors request: no preflight, so only the server's own check stands between it and the API.
    await page.evaluate(async (url) => {
      await fetch(url, { method: 'POST', mode: 'no-cors', body: '{}' })
    }, `${apiUrl}/v1/jobs`)
    expect((await answered).status()).toBe(403)
    await page.close()
  })

  it("lets the daemon's own page read and write past the origin check", async () => {
    const page = await browser.newPage()
    await page.goto(`${apiUrl}/`)
    const answers = await page.evaluate(async () => {
      const read = await fetch('/v1/status')
      const write = await fetch('/v1/jobs', { method: 'POST', body: '{}' })
      return {
        read: read.status,
        write: write.status,
        code: ((await write.json()) as { error: { code: string } }).error.code,
      }
    })
    // Same origin: the write reaches the route, which serves writes on the unix socket only.
    expect(answers).toEqual({ read: 200, write: 405, code: 'SHOAL_METHOD_NOT_ALLOWED' })
    await page.close()
  })
})
