// A stand-in API of a big cluster (50 nodes, 10,000 jobs, a steady stream of events) for the web page's scale benchmark.
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { sendError, sendJson } from '../src/api/http.js'
import { Router } from '../src/api/router.js'
import { webRoutes } from '../src/api/routes/web.js'
import type {
  CoordinatorView,
  JobState,
  JobView,
  NodeView,
  RecordEvent,
  StatsSample,
  StatusView,
} from '../src/api/types.js'
import { asShoalError, NotFoundError } from '../src/errors.js'
import type { NodeValue } from '../src/membership/index.js'

export interface FixtureOptions {
  nodes: number
  jobs: number
  /** Job views changed (and sent as `job` events) per second. */
  jobEventsPerSecond: number
}

export interface Fixture {
  url: string
  nodes: NodeView[]
  /** Stops the event streams and the server. */
  close(): Promise<void>
}

const STATES: Array<[JobState, number]> = [
  ['succeeded', 0.6],
  ['failed', 0.1],
  ['running', 0.05],
  ['assigned', 0.05],
  ['pending', 0.15],
  ['cancelled', 0.03],
  ['timed-out', 0.02],
]

const peerId = (): string => `12D3KooW${randomBytes(33).toString('base64url').slice(0, 44)}`

function makeNode(index: number): NodeView {
  const memoryTotal = 16 * 1024 ** 3
  return {
    id: peerId(),
    name: `node-${String(index).padStart(2, '0')}`,
    state: 'alive',
    self: index === 0,
    connected: index !== 0,
    addresses: [`/ip4/10.0.${Math.floor(index / 250)}.${index % 250}/tcp/7420`],
    lastSeen: new Date().toISOString(),
    labels: { zone: `z${index % 3}`, rack: `r${index % 7}` },
    drained: false,
    resources: {
      cpus: 8,
      memoryTotal,
      memoryFree: memoryTotal * (0.2 + (index % 10) / 15),
      diskTotal: 500 * 1024 ** 3,
      diskFree: 200 * 1024 ** 3,
      load: [(index % 9) * 0.9, 1, 1],
    },
    usage: 'live',
    usageAt: new Date().toISOString(),
    drivers: { docker: true, exec: true },
    hostNetwork: false,
    eligible: true,
    coordinator: index === 0,
    version: '0.1.0',
    startedAt: new Date(Date.now() - 3_600_000).toISOString(),
  }
}

function makeJob(index: number, nodes: NodeView[], now: number): JobView {
  let pick = ((index * 7919) % 1000) / 1000
  let state: JobState = 'succeeded'
  for (const [candidate, share] of STATES) {
    if (pick < share) {
      state = candidate
      break
    }
    pick -= share
  }
  const node = state === 'pending' ? null : nodes[index % nodes.length]!
  const createdAt = now - (10_000 - index) * 350
  const finished =
    state === 'succeeded' || state === 'failed' || state === 'cancelled' || state === 'timed-out'
  return {
    id: `j${index.toString(16).padStart(15, '0')}`,
    name: `batch-${Math.floor(index / 100)}-task-${index % 100}`,
    state,
    node: node?.id ?? null,
    nodeName: node?.name ?? null,
    attempt: 1 + (index % 13 === 0 ? 1 : 0),
    exitCode: state === 'succeeded' ? 0 : state === 'failed' ? 1 : null,
    tags: { team: ['ml', 'web', 'data'][index % 3]!, batch: String(Math.floor(index / 100)) },
    createdAt: new Date(createdAt).toISOString(),
    startedAt: state === 'pending' || state === 'assigned' ? null : new Date(createdAt + 1_000).toISOString(),
    finishedAt: finished ? new Date(createdAt + 2_000 + (index % 50) * 100).toISOString() : null,
    reason: null,
    driver: 'exec',
    image: null,
    command: ['sh', '-c', `echo task ${index}`],
    env: {},
    resources: { cpu: 0.5, memory: 256 * 1024 ** 2, disk: 0, gpu: 0 },
    constraints: {},
    timeoutMs: null,
    retries: 0,
    restart: 'never',
    priority: 0,
    after: [],
    submissionId: null,
  }
}

function nodeRecord(node: NodeView, heartbeat: number): RecordEvent {
  const wall = Date.now()
  const value: NodeValue = {
    name: node.name,
    peerId: node.id,
    addresses: node.addresses,
    resources: { ...node.resources, load: [((heartbeat + node.name.length) % 9) * 0.9, 1, 1] },
    labels: node.labels,
    drivers: node.drivers,
    coordinator: true,
    version: node.version,
    startedAt: Date.parse(node.startedAt),
    heartbeat,
    heartbeatMs: 1_000,
    state: 'up',
  }
  return {
    key: `node/${node.id}`,
    kind: 'node',
    value,
    deleted: false,
    origin: node.id,
    term: 0,
    stamp: { wall, counter: 0 },
    source: 'gossip',
  }
}

export async function startFixture(options: FixtureOptions): Promise<Fixture> {
  const now = Date.now()
  const nodes = Array.from({ length: options.nodes }, (_, i) => makeNode(i))
  const jobs = Array.from({ length: options.jobs }, (_, i) => makeJob(i, nodes, now))
  // Newest first, as the jobs API sorts them.
  jobs.reverse()
  const byId = new Map(jobs.map((job) => [job.id, job]))
  const coordinator: CoordinatorView = {
    status: 'held',
    holder: nodes[0]!.id,
    holderName: nodes[0]!.name,
    term: 7,
    self: true,
    since: new Date(now - 600_000).toISOString(),
    expiresAt: new Date(now + 10_000).toISOString(),
    role: 'holder',
    eligible: true,
  }
  const streams = new Set<ServerResponse>()
  const timers: NodeJS.Timeout[] = []
  const router = new Router().add(...webRoutes())
  const api = (path: string, handle: (url: URL, params: Record<string, string>) => unknown) =>
    router.add({
      method: 'GET',
      path,
      handle: ({ res, url, params }) => sendJson(res, 200, handle(url, params)),
    })

  api(
    '/v1/status',
    (): StatusView => ({
      peerId: nodes[0]!.id,
      name: nodes[0]!.name,
      addresses: [`${nodes[0]!.addresses[0]}/p2p/${nodes[0]!.id}`],
      httpUrl: '',
      dataDir: '/nowhere',
      version: '0.1.0',
      peers: nodes.length - 1,
      records: nodes.length + jobs.length * 3,
      nodes: { alive: nodes.length - 1, suspect: 0, dead: 0, left: 0 },
      startedAt: new Date(now - 3_600_000).toISOString(),
      uptimeSeconds: 3600,
      swarmKeyFingerprint: 'f00dfeed',
      blobPort: 7422,
      coordinator,
    }),
  )
  api('/v1/nodes', () => nodes)
  api('/v1/nodes/:id', (_url, params) => {
    const node = nodes.find((candidate) => candidate.id === params.id)
    if (node === undefined) throw new NotFoundError('no such node')
    return node
  })
  api('/v1/coordinator', () => coordinator)
  api('/v1/jobs', (url) => {
    const state = url.searchParams.get('state')
    const tag = url.searchParams.get('tag')
    const node = url.searchParams.get('node')
    const [tagKey, tagValue] = tag === null ? [] : tag.split('=', 2)
    const matching = jobs.filter(
      (job) =>
        (state === null || job.state === state) &&
        (node === null || job.node === node) &&
        (tagKey === undefined || job.tags[tagKey] === tagValue),
    )
    const offset = Number(url.searchParams.get('offset') ?? 0)
    const limit = Number(url.searchParams.get('limit') ?? 100)
    return { jobs: matching.slice(offset, offset + limit), total: matching.length }
  })
  api('/v1/jobs/:id', (_url, params) => {
    const job = byId.get(params.id!)
    if (job === undefined) throw new NotFoundError('no such job')
    return job
  })
  api('/v1/images', () => [])
  api('/v1/layers', () => [])
  const samples: StatsSample[] = []
  api('/v1/stats', () => {
    samples.push({
      at: new Date().toISOString(),
      gossip: {
        messagesIn: samples.length * 250,
        messagesOut: samples.length * 5,
        syncRecordsSent: 0,
        syncRecordsReceived: 0,
      },
      layerBytes: { origin: 0, peer: 0, local: 0 },
      processCpuSeconds: samples.length,
      cluster: {
        nodes: nodes.length,
        cpus: nodes.length * 8,
        load: nodes.length * 3,
        memoryTotal: nodes.length * 16 * 1024 ** 3,
        memoryUsed: nodes.length * 8 * 1024 ** 3,
        diskTotal: 1,
        diskUsed: 0,
      },
    })
    return { intervalMs: 5_000, samples }
  })
  router.add({
    method: 'GET',
    path: '/v1/events',
    handle: ({ res }) => {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' })
      res.write('retry: 2000\n\n')
      streams.add(res)
      res.on('close', () => streams.delete(res))
    },
  })
  const send = (event: string, data: unknown): void => {
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
    for (const res of streams) res.write(text)
  }

  // Every node heartbeats once a second, spread over the second as real ones drift apart.
  let heartbeat = 0
  timers.push(
    setInterval(() => {
      heartbeat++
      const node = nodes[heartbeat % nodes.length]!
      send('record', nodeRecord(node, Math.floor(heartbeat / nodes.length)))
    }, 1_000 / nodes.length),
  )
  // Jobs move on: pending → assigned → running → succeeded, one step per event.
  let cursor = 0
  const next: Partial<Record<JobState, JobState>> = {
    pending: 'assigned',
    assigned: 'running',
    running: 'succeeded',
  }
  timers.push(
    setInterval(() => {
      for (let tries = 0; tries < jobs.length; tries++) {
        const job = jobs[cursor++ % jobs.length]!
        const to = next[job.state]
        if (to === undefined) continue
        job.state = to
        if (to === 'assigned')
          Object.assign(job, {
            node: nodes[cursor % nodes.length]!.id,
            nodeName: nodes[cursor % nodes.length]!.name,
          })
        if (to === 'running') job.startedAt = new Date().toISOString()
        if (to === 'succeeded') Object.assign(job, { finishedAt: new Date().toISOString(), exitCode: 0 })
        send('job', job)
        return
      }
    }, 1_000 / options.jobEventsPerSecond),
  )

  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fixture.invalid')
    try {
      const match = router.match(req.method ?? 'GET', url.pathname)
      if (match === undefined || 'methods' in match) throw new NotFoundError(`no route ${url.pathname}`)
      await match.route.handle({ req, res, url, params: match.params, remote: true })
    } catch (err) {
      sendError(res, asShoalError(err))
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    nodes,
    close: async () => {
      for (const timer of timers) clearInterval(timer)
      for (const res of streams) res.end()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}
