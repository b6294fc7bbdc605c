import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JobList, JobView } from '../../src/api/types.js'
import { type ApiAnswer, type ApiTarget, apiRequest, errorCodeOf } from '../helpers/api-requests.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { waitFor } from '../helpers/wait.js'

const SECRET = 'hunter2-do-not-serve'

describe('the local API on TCP', () => {
  let node: TestNode
  let tcp: ApiTarget
  let socket: ApiTarget
  let port: string

  beforeAll(async () => {
    node = await startNode({
      name: 'defences',
      tuning: { api: { httpNames: ['shoal.lan', '192.0.2.7'], maxEventClients: 2 } },
    })
    tcp = { httpUrl: node.daemon.api.httpUrl }
    socket = { socketPath: `${node.dataDir}/shoal.sock` }
    port = new URL(node.daemon.api.httpUrl).port
  })
  afterAll(async () => destroyNodes([node]))

  const expectError = (answer: ApiAnswer, status: number, code: string, what?: string): void => {
    expect({ status: answer.status, code: errorCodeOf(answer) }, what).toEqual({ status, code })
  }

  it('refuses a Host that is not loopback, its own address or a --http-name (DNS rebinding)', async () => {
    const refused = [
      'evil.example',
      `evil.example:${port}`,
      `127.0.0.1.example:${port}`,
      '127.x.example',
      `localhost.evil.com:${port}`,
      'localhost.',
      '127.0.0.1@evil.example',
      '192.0.2.8',
      `shoal.lan.evil.example:${port}`,
    ]
    for (const host of refused) {
      const answer = await apiRequest(tcp, { path: '/v1/status', headers: { host } })
      expectError(answer, 421, 'SHOAL_BAD_HOST', host)
    }
    expectError(await apiRequest(tcp, { path: '/v1/status', noHost: true }), 421, 'SHOAL_BAD_HOST')
  })

  it('serves loopback names, its own address and the configured names', async () => {
    const served = [
      `localhost:${port}`,
      `LOCALHOST:${port}`,
      `127.0.0.1:${port}`,
      '127.4.5.6',
      `[::1]:${port}`,
      `shoal.lan:${port}`,
      'Shoal.LAN',
      `192.0.2.7:${port}`,
    ]
    for (const host of served) {
      expect((await apiRequest(tcp, { path: '/v1/status', headers: { host } })).status, host).toBe(200)
    }
  })

  it('answers any Host on the unix socket', async () => {
    const answer = await apiRequest(socket, { path: '/v1/status', headers: { host: 'evil.example' } })
    expect(answer.status).toBe(200)
  })

  it('refuses writes from another origin on TCP, before anything else about them', async () => {
    const host = `127.0.0.1:${port}`
    const crossOrigin: Array<Record<string, string>> = [
      { host, origin: 'http://evil.example' },
      { host, origin: `http://localhost:${Number(port) + 1}` },
      { host, origin: 'null' },
      { host, 'sec-fetch-site': 'cross-site' },
      { host, 'sec-fetch-site': 'same-site' },
    ]
    for (const headers of crossOrigin) {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        const answer = await apiRequest(tcp, { method, path: '/v1/jobs', headers, body: '{}' })
        expectError(answer, 403, 'SHOAL_CROSS_ORIGIN')
      }
    }
    // The page's own origin (and tools that send none) get the usual answer: writes are socket-only.
    const sameOrigin: Array<Record<string, string>> = [
      { host, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' },
      { host },
    ]
    for (const headers of sameOrigin) {
      const answer = await apiRequest(tcp, { method: 'POST', path: '/v1/jobs', headers, body: '{}' })
      expectError(answer, 405, 'SHOAL_METHOD_NOT_ALLOWED')
    }
    // Reads carry an Origin too (the page's fetches): they are not writes.
    const read = await apiRequest(tcp, {
      path: '/v1/status',
      headers: { host, origin: 'http://evil.example' },
    })
    expect(read.status).toBe(200)
  })

  it('redacts job env values in views, lists and events on TCP, and shows them on the socket', async () => {
    const events = await openEvents(tcp)
    const socketEvents = await openEvents(socket)
    try {
      const submitted = await apiRequest(socket, {
        method: 'POST',
        path: '/v1/jobs',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          driver: 'exec',
          command: ['true'],
          env: { API_TOKEN: SECRET },
          // No node has this label: the job stays pending and runs nowhere.
          constraints: { 'never-matches': 'x' },
        }),
      })
      expect(submitted.status).toBe(201)
      const { id } = JSON.parse(submitted.body) as JobView

      const overSocket = JSON.parse((await apiRequest(socket, { path: `/v1/jobs/${id}` })).body) as JobView
      expect(overSocket.env).toEqual({ API_TOKEN: SECRET })
      const overTcp = JSON.parse((await apiRequest(tcp, { path: `/v1/jobs/${id}` })).body) as JobView
      expect(overTcp.env).toEqual({ API_TOKEN: '***' })
      const list = JSON.parse((await apiRequest(tcp, { path: '/v1/jobs' })).body) as JobList
      expect(list.jobs.find((job) => job.id === id)?.env).toEqual({ API_TOKEN: '***' })
      expect(JSON.stringify(list)).not.toContain(SECRET)

      // Both the `jobs` record event and the `job` view event reach each stream.
      const seen = (text: string): boolean => text.includes('event: record') && text.includes(`"id":"${id}"`)
      await waitFor(
        'the job events on the socket',
        () => seen(socketEvents.text()) && /event: job\n/.test(socketEvents.text()),
      )
      await waitFor('the job events on TCP', () => seen(events.text()) && /event: job\n/.test(events.text()))
      expect(socketEvents.text()).toContain(SECRET)
      expect(events.text()).not.toContain(SECRET)
      expect(events.text()).toContain('"API_TOKEN":"***"')
    } finally {
      events.close()
      socketEvents.close()
    }
  })

  it('caps event streams at --max-event-clients and takes a new one once one closes', async () => {
    // The streams of the test before may take a moment to be closed on the server's side.
    const first = await waitFor('a first stream', () => openEvents(tcp).catch(() => undefined))
    const second = await waitFor('a second stream', () => openEvents(socket).catch(() => undefined))
    try {
      const third = await apiRequest(tcp, { path: '/v1/events' })
      expectError(third, 503, 'SHOAL_TOO_MANY_EVENT_CLIENTS')
      first.close()
      const again = await waitFor('a stream slot to free', () => openEvents(tcp).catch(() => undefined))
      again.close()
    } finally {
      first.close()
      second.close()
    }
  })
})

/** An open /v1/events stream collecting what it receives; rejects unless the answer is a 200 stream. */
function openEvents(target: ApiTarget): Promise<{ text(): string; close(): void }> {
  return new Promise((resolve, reject) => {
    const controller = new AbortController()
    let text = ''
    {
      const where =
        'socketPath' in target
          ? { socketPath: target.socketPath }
          : { host: new URL(target.httpUrl).hostname, port: Number(new URL(target.httpUrl).port) }
      const req = request(
        { ...where, path: '/v1/events', agent: false, signal: controller.signal },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume()
            reject(new Error(`events answered ${res.statusCode}`))
            return
          }
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => {
            text += chunk
          })
          // close() aborts the response: that is how the stream is meant to end.
          res.on('error', () => undefined)
          resolve({ text: () => text, close: () => controller.abort() })
        },
      )
      req.on('error', (err) => {
        if (err.name !== 'AbortError') reject(err)
      })
      req.end()
    }
  })
}
