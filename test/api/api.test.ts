import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { JobView, NodeView, RecordEvent, StatusView } from '../../src/api/types.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { waitFor } from '../helpers/wait.js'

/** A request over the daemon's unix socket, as the CLI makes it. */
function overSocket(
  node: TestNode,
  method: string,
  path: string,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: `${node.dataDir}/shoal.sock`, method, path }, (res) => {
      let body = ''
      res.on('data', (chunk) => {
        body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('the local API', () => {
  let a: TestNode
  let b: TestNode

  beforeAll(async () => {
    a = await startNode({ name: 'api-a', labels: { role: 'edge' } })
    b = await startNode({ name: 'api-b', join: a })
    await waitFor('a to see b alive', () => a.daemon.membership.livenessOf(b.daemon.peerId) === 'alive')
  })
  afterAll(async () => destroyNodes([a, b]))

  it('serves the same reads on the unix socket and on TCP', async () => {
    const viaSocket = JSON.parse((await overSocket(a, 'GET', '/v1/status')).body) as StatusView
    const viaTcp = (await (await fetch(`${a.daemon.api.httpUrl}/v1/status`)).json()) as StatusView
    expect(viaSocket.peerId).toBe(viaTcp.peerId)
    expect(viaTcp.httpUrl).toBe(a.daemon.api.httpUrl)
    const nodes = (await (await fetch(`${a.daemon.api.httpUrl}/v1/nodes`)).json()) as NodeView[]
    expect(nodes.map((node) => node.name)).toEqual(['api-a', 'api-b'])
    const one = (await (await fetch(`${a.daemon.api.httpUrl}/v1/nodes/api-a`)).json()) as NodeView
    expect(one.labels).toEqual({ role: 'edge' })
  })

  it('makes the socket owner-only', async () => {
    const { stat } = await import('node:fs/promises')
    expect((await stat(`${a.dataDir}/shoal.sock`)).mode & 0o777).toBe(0o600)
  })

  it('answers errors as { error: { code, message } } with fitting statuses', async () => {
    const cases: Array<[string, string, number, string]> = [
      ['GET', '/v1/nope', 404, 'SHOAL_NOT_FOUND'],
      ['GET', '/v1/nodes/nobody', 404, 'SHOAL_NODE_NOT_FOUND'],
      ['DELETE', '/v1/status', 405, 'SHOAL_METHOD_NOT_ALLOWED'],
    ]
    for (const [method, path, status, code] of cases) {
      const res = await overSocket(a, method, path)
      expect(res.status).toBe(status)
      const body = JSON.parse(res.body) as { error: { code: string; message: string } }
      expect(body.error.code).toBe(code)
      expect(body.error.message.length).toBeGreaterThan(0)
    }
  })

  it('streams record changes as server-sent events', async () => {
    const controller = new AbortController()
    const res = await fetch(`${a.daemon.api.httpUrl}/v1/events?kinds=test`, { signal: controller.signal })
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let buffer = ''
    await b.daemon.state.put('test/event', { n: 1 })
    const event = await waitFor('the record event', async () => {
      const { value } = await reader.read()
      buffer += decoder.decode(value)
      const match = /event: record\ndata: (.*)\n\n/.exec(buffer)
      return match === null ? undefined : (JSON.parse(match[1]!) as RecordEvent)
    })
    controller.abort()
    expect(event).toMatchObject({
      key: 'test/event',
      kind: 'test',
      value: { n: 1 },
      origin: b.daemon.peerId,
      source: 'gossip',
    })
  })

  it('streams job views to every page that asks, built once per change and to no one else', async () => {
    const controller = new AbortController()
    const open = async (kinds: string) => {
      const res = await fetch(`${a.daemon.api.httpUrl}/v1/events?kinds=${kinds}`, {
        signal: controller.signal,
      })
      return { reader: res.body!.getReader(), buffer: '' }
    }
    const pages = [await open('job'), await open('job,node')]
    const others = await open('test')
    const built = vi.spyOn(a.daemon.jobs, 'emit')
    const { jobs } = await b.daemon.jobs.submit([{ name: 'sse', driver: 'exec', command: ['true'] }])
    const id = jobs[0]!.id
    const decoder = new TextDecoder()
    const finalState = (page: { buffer: string }): string | undefined => {
      const views = [...page.buffer.matchAll(/event: job\ndata: (.*)\n\n/g)].map(
        (m) => JSON.parse(m[1]!) as JobView,
      )
      return views.filter((view) => view.id === id).at(-1)?.state
    }
    for (const page of pages) {
      await waitFor('the job to succeed on the page', async () => {
        const { value } = await page.reader.read()
        page.buffer += decoder.decode(value)
        return finalState(page) === 'succeeded' ? true : undefined
      })
    }
    // The page that asked for other kinds saw the record written after the job, and no job.
    await b.daemon.state.put('test/after-job', { n: 2 })
    await waitFor('the record after the job', async () => {
      const { value } = await others.reader.read()
      others.buffer += decoder.decode(value)
      return others.buffer.includes('test/after-job') ? true : undefined
    })
    controller.abort()
    expect(others.buffer).not.toContain('event: job')
    // One batch of views per tick for both pages, not one view per page.
    const batches = built.mock.calls.filter((call) => call[0] === 'job:views').length
    const pageEvents = (pages[0]!.buffer.match(/event: job\n/g) ?? []).length
    expect(batches).toBeGreaterThan(0)
    expect(batches).toBeLessThanOrEqual(pageEvents)
    built.mockRestore()
  })

  it('exposes Prometheus metrics: peers, records, gossip in/out/dropped, sync rounds', async () => {
    const res = await fetch(`${a.daemon.api.httpUrl}/metrics`)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await res.text()
    for (const name of [
      'shoal_peers 1',
      'shoal_records{kind="node"} 2',
      'shoal_gossip_messages_in_total',
      'shoal_gossip_messages_out_total',
      'shoal_gossip_messages_dropped_total{reason="schema"}',
      'shoal_sync_rounds_total',
      'shoal_nodes{state="alive"} 1',
    ]) {
      expect(text).toContain(name)
    }
  })
})
