import { describe, expect, it } from 'vitest'
import { ago, bytes, shellJoin, shortDigest, shortId } from '../../web/src/format.js'
import { FinishedPerMinute, niceCeiling, rates, utilisation } from '../../web/src/history.js'
import { liveRows } from '../../web/src/job-rows.js'
import type { JobView } from '../../web/src/job-types.js'
import { applyNodeRecord, applyUsage, byStateThenName, usage } from '../../web/src/node-model.js'
import { filterParams, formatRoute, matchesFilter, NO_FILTER, parseRoute } from '../../web/src/route.js'
import type { NodeValue, NodeView, StatsSample } from '../../web/src/types.js'

const node = (over: Partial<NodeView> = {}): NodeView => ({
  id: '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  name: 'alpha',
  state: 'alive',
  self: false,
  connected: true,
  addresses: [],
  lastSeen: new Date(1_000).toISOString(),
  labels: {},
  resources: {
    cpus: 4,
    memoryTotal: 1000,
    memoryFree: 250,
    diskTotal: 2000,
    diskFree: 2000,
    load: [2, 1, 1],
  },
  usage: 'record',
  usageAt: new Date(1_000).toISOString(),
  drivers: { docker: false, exec: true },
  hostNetwork: false,
  drained: false,
  eligible: true,
  coordinator: false,
  version: '0.1.0',
  startedAt: new Date(0).toISOString(),
  ...over,
})

const sample = (
  atMs: number,
  messagesIn: number,
  over: Partial<StatsSample['cluster']> = {},
): StatsSample => ({
  at: new Date(atMs).toISOString(),
  gossip: { messagesIn, messagesOut: 0, syncRecordsSent: 0, syncRecordsReceived: 0 },
  layerBytes: { origin: 0, peer: 0, local: 0 },
  processCpuSeconds: 0,
  cluster: {
    nodes: 1,
    cpus: 2,
    load: 1,
    memoryTotal: 100,
    memoryUsed: 25,
    diskTotal: 0,
    diskUsed: 0,
    ...over,
  },
})

describe('the page URL (#/…)', () => {
  it('reads every view, and a job filter with its page', () => {
    expect(parseRoute('')).toEqual({ view: 'mesh' })
    expect(parseRoute('#/')).toEqual({ view: 'mesh' })
    expect(parseRoute('#/layers')).toEqual({ view: 'layers' })
    expect(parseRoute('#/history')).toEqual({ view: 'history' })
    expect(parseRoute('#/services')).toEqual({ view: 'services' })
    expect(parseRoute('#/jobs/j-1%2F2')).toEqual({ view: 'job', id: 'j-1/2' })
    expect(parseRoute('#/jobs?state=running&tag=team%3Dml&node=abc&page=3')).toEqual({
      view: 'jobs',
      filter: { state: 'running', tag: 'team=ml', node: 'abc', page: 3 },
    })
  })

  it('ignores a state it does not know and a page that is not a positive number', () => {
    expect(parseRoute('#/jobs?state=exploded&page=-2')).toEqual({ view: 'jobs', filter: NO_FILTER })
    expect(parseRoute('#/jobs?page=x')).toEqual({ view: 'jobs', filter: NO_FILTER })
  })

  it('writes what it reads', () => {
    const routes = [
      { view: 'mesh' },
      { view: 'layers' },
      { view: 'history' },
      { view: 'services' },
      { view: 'job', id: 'a b/c' },
      { view: 'jobs', filter: NO_FILTER },
      { view: 'jobs', filter: { state: 'failed', tag: 'k=v', node: 'n1', page: 2 } },
    ] as const
    for (const route of routes) expect(parseRoute(formatRoute(route))).toEqual(route)
    expect(formatRoute({ view: 'jobs', filter: NO_FILTER })).toBe('#/jobs')
  })

  it('passes the filter to the jobs API without the page', () => {
    const params = filterParams({ state: 'running', tag: 'k=v', node: 'n1', page: 4 })
    expect(params.toString()).toBe('state=running&tag=k%3Dv&node=n1')
  })

  it('tells whether a live job belongs in the filtered list', () => {
    const job = { state: 'running' as const, tags: { team: 'ml', gpu: '' }, node: 'n1' }
    expect(matchesFilter(job, NO_FILTER)).toBe(true)
    expect(matchesFilter(job, { ...NO_FILTER, state: 'running', node: 'n1', tag: 'team=ml' })).toBe(true)
    expect(matchesFilter(job, { ...NO_FILTER, state: 'succeeded' })).toBe(false)
    expect(matchesFilter(job, { ...NO_FILTER, node: 'n2' })).toBe(false)
    expect(matchesFilter(job, { ...NO_FILTER, tag: 'team=web' })).toBe(false)
    expect(matchesFilter(job, { ...NO_FILTER, tag: 'gpu' })).toBe(true)
    expect(matchesFilter(job, { ...NO_FILTER, tag: 'missing' })).toBe(false)
  })
})

const job = (id: string, createdSecond: number, over: Partial<JobView> = {}): JobView => ({
  id,
  name: id,
  state: 'pending',
  node: null,
  nodeName: null,
  attempt: 1,
  exitCode: null,
  tags: {},
  createdAt: new Date(createdSecond * 1000).toISOString(),
  startedAt: null,
  finishedAt: null,
  reason: null,
  driver: 'exec',
  image: null,
  command: ['true'],
  env: {},
  resources: { cpu: 0.1, memory: 0, disk: 0, gpu: 0 },
  constraints: {},
  timeoutMs: null,
  retries: 0,
  restart: 'never',
  priority: 0,
  after: [],
  submissionId: null,
  ...over,
})

describe('rows of the jobs table', () => {
  const fetched = { jobs: [job('c', 30), job('b', 20), job('a', 10)], total: 7 }

  it('shows fetched rows as the latest events describe them', () => {
    const recent = new Map([['b', job('b', 20, { state: 'succeeded' })]])
    const rows = liveRows(fetched, recent, { ...NO_FILTER, page: 1 }, 3)
    expect(rows.jobs.map((j) => `${j.id}:${j.state}`)).toEqual(['c:pending', 'b:succeeded', 'a:pending'])
    expect(rows.total).toBe(7)
  })

  it('puts a job that events announced since the read at the top of the first page at once', () => {
    const recent = new Map([
      ['d', job('d', 40)],
      ['old', job('old', 5)],
      ['other-team', job('other-team', 50, { tags: { team: 'web' } })],
    ])
    const all = liveRows(fetched, recent, NO_FILTER, 3)
    expect(all.jobs.map((j) => j.id)).toEqual(['other-team', 'd', 'c'])
    expect(all.total).toBe(9)
    // A job older than the full page's last row belongs to a later page.
    expect(all.jobs.map((j) => j.id)).not.toContain('old')
    const filtered = liveRows(fetched, recent, { ...NO_FILTER, tag: 'team=web' }, 3)
    expect(filtered.jobs.map((j) => j.id)).toEqual(['other-team', 'c', 'b'])
  })

  it('adds nothing to later pages, and any missing job to a page that is not full', () => {
    const recent = new Map([['d', job('d', 40)]])
    expect(liveRows(fetched, recent, { ...NO_FILTER, page: 2 }, 3).jobs.map((j) => j.id)).toEqual([
      'c',
      'b',
      'a',
    ])
    const short = liveRows(fetched, new Map([['old', job('old', 5)]]), NO_FILTER, 100)
    expect(short.jobs.map((j) => j.id)).toEqual(['c', 'b', 'a', 'old'])
  })
})

describe('history for the charts', () => {
  it('turns cumulative counters into per-second rates', () => {
    const points = rates(
      [sample(0, 0), sample(5_000, 50), sample(10_000, 60)],
      (s) => s.gossip.messagesIn,
      15_000,
    )
    expect(points).toEqual([
      { t: 5_000, v: 10 },
      { t: 10_000, v: 2 },
    ])
  })

  it('breaks the line over a long silence and over a counter that restarted', () => {
    const samples = [sample(0, 100), sample(5_000, 150), sample(60_000, 200), sample(65_000, 3)]
    const points = rates(samples, (s) => s.gossip.messagesIn, 15_000)
    expect(points.map((p) => p.v)).toEqual([10, null, null])
  })

  it('gives cluster utilisation as fractions, CPU capped at one', () => {
    const use = utilisation([sample(0, 0, { load: 5, cpus: 2 }), sample(1, 0, { diskTotal: 0 })])
    expect(use.cpu.map((p) => p.v)).toEqual([1, 0.5])
    expect(use.memory.map((p) => p.v)).toEqual([0.25, 0.25])
    expect(use.disk.map((p) => p.v)).toEqual([null, null])
  })

  it('counts each finished job once, in the minute it finished, over the last hour', () => {
    const now = Date.parse('2025-01-01T12:30:30Z')
    const perMinute = new FinishedPerMinute(60)
    expect(perMinute.add('a', '2025-01-01T12:30:10Z', now)).toBe(true)
    expect(perMinute.add('a', '2025-01-01T12:30:10Z', now)).toBe(false)
    expect(perMinute.add('b', '2025-01-01T12:29:59Z', now)).toBe(true)
    expect(perMinute.add('c', '2025-01-01T12:30:59Z', now)).toBe(true)
    expect(perMinute.add('old', '2025-01-01T11:00:00Z', now)).toBe(false)
    expect(perMinute.add('bad', 'not a time', now)).toBe(false)
    const series = perMinute.series(now)
    expect(series).toHaveLength(60)
    expect(series.at(-1)).toEqual({ t: Date.parse('2025-01-01T12:30:00Z'), v: 2 })
    expect(series.at(-2)).toEqual({ t: Date.parse('2025-01-01T12:29:00Z'), v: 1 })
    expect(perMinute.total(now)).toBe(3)
    expect(perMinute.total(now + 3_600_000)).toBe(0)
  })

  it('rounds the top of a scale up to 1, 2 or 5 times a power of ten', () => {
    expect([0, 0.3, 1, 1.1, 3, 7, 42, 999].map(niceCeiling)).toEqual([1, 0.5, 1, 2, 5, 10, 50, 1000])
  })
})

describe('node views from node records', () => {
  const value: NodeValue = {
    name: 'alpha-renamed',
    peerId: node().id,
    addresses: ['/ip4/127.0.0.1/tcp/1'],
    resources: { ...node().resources, load: [3, 2, 1] },
    labels: { zone: 'b' },
    drivers: { docker: true, exec: true },
    coordinator: false,
    version: '0.2.0',
    startedAt: 5_000,
    heartbeat: 9,
    state: 'up',
  }

  it('takes what the record says and keeps the liveness the events reported', () => {
    const updated = applyNodeRecord(node({ state: 'suspect' }), value, 9_000)!
    expect(updated).toMatchObject({
      name: 'alpha-renamed',
      state: 'suspect',
      labels: { zone: 'b' },
      eligible: false,
      version: '0.2.0',
      lastSeen: new Date(9_000).toISOString(),
      startedAt: new Date(5_000).toISOString(),
    })
    expect(updated.resources.load[0]).toBe(3)
  })

  it('marks a node that wrote `left` as left, and has nothing to update for a node it never saw', () => {
    expect(applyNodeRecord(node(), { ...value, state: 'left' }, 9_000)?.state).toBe('left')
    expect(applyNodeRecord(undefined, value, 9_000)).toBeUndefined()
  })

  it('keeps a live reading of load and memory newer than the record, takes the rest from the record', () => {
    const live = node({
      usage: 'live',
      usageAt: new Date(10_000).toISOString(),
      resources: { ...node().resources, load: [0.25, 1, 1], memoryFree: 900 },
    })
    const updated = applyNodeRecord(live, value, 9_000)!
    expect(updated.name).toBe('alpha-renamed')
    expect(updated).toMatchObject({ usage: 'live', usageAt: new Date(10_000).toISOString() })
    expect(updated.resources).toMatchObject({ load: [0.25, 1, 1], memoryFree: 900 })
    // A record written after the reading carries newer figures.
    const later = applyNodeRecord(live, value, 11_000)!
    expect(later).toMatchObject({ usage: 'record', usageAt: new Date(11_000).toISOString() })
    expect(later.resources.load[0]).toBe(3)
  })

  it('takes a newer read of live usage, and ignores an older one', () => {
    const read = node({
      name: 'stale-name',
      usage: 'live',
      usageAt: new Date(20_000).toISOString(),
      resources: { ...node().resources, load: [6, 5, 4], memoryFree: 100, cpus: 99 },
    })
    const updated = applyUsage(node(), read)
    expect(updated.name).toBe('alpha')
    expect(updated).toMatchObject({ usage: 'live', usageAt: read.usageAt })
    expect(updated.resources).toMatchObject({ load: [6, 5, 4], memoryFree: 100, cpus: 4 })
    expect(applyUsage(updated, node())).toBe(updated)
  })

  it('gives resource use as fractions for the bars', () => {
    expect(usage(node())).toEqual({ cpu: 0.5, memory: 0.75, disk: 0 })
  })

  it('orders alive nodes first, then by name', () => {
    const nodes = [
      node({ name: 'b', state: 'dead' }),
      node({ name: 'c' }),
      node({ name: 'a', state: 'left' }),
      node({ name: 'd', state: 'suspect' }),
      node({ name: 'a' }),
    ]
    expect(nodes.sort(byStateThenName).map((n) => `${n.name}:${n.state}`)).toEqual([
      'a:alive',
      'c:alive',
      'd:suspect',
      'b:dead',
      'a:left',
    ])
  })
})

describe('text for people', () => {
  it('writes sizes, ages and short ids', () => {
    expect([0, 1023, 1024, 1536, 10 * 1024 ** 2, 5 * 1024 ** 3].map(bytes)).toEqual([
      '0 B',
      '1023 B',
      '1.0 KiB',
      '1.5 KiB',
      '10 MiB',
      '5.0 GiB',
    ])
    const now = Date.parse('2025-01-01T00:10:00Z')
    expect(ago('2025-01-01T00:10:00Z', now)).toBe('now')
    expect(ago('2025-01-01T00:09:30Z', now)).toBe('30 s ago')
    expect(ago('2025-01-01T00:00:00Z', now)).toBe('10 min ago')
    expect(shortId('12D3KooWAbCdEfGhIjKlMn')).toBe('…GhIjKlMn')
    expect(shortDigest(`sha256:${'ab'.repeat(32)}`)).toBe('abababababab')
  })

  it('writes a command so that a shell would read back the same arguments', () => {
    expect(shellJoin(['sh', '-c', "echo it's done; exit 0"])).toBe(`sh -c 'echo it'\\''s done; exit 0'`)
    expect(shellJoin(['ls', '-la', '/tmp/a.b', 'k=v'])).toBe('ls -la /tmp/a.b k=v')
    expect(shellJoin(['printf', ''])).toBe("printf ''")
  })
})
