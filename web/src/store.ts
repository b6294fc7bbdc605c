// The page's picture of the cluster: read once from the API, then kept current by /v1/events (resynced on reconnect).
import { ApiError, apiUrl, getJson } from './api.js'
import { FinishedPerMinute } from './history.js'
import { ACTIVE_STATES, isActive, isFinal, type JobList, type JobState, type JobView } from './job-types.js'
import { applyNodeRecord, applyUsage } from './node-model.js'
import type {
  CoordinatorView,
  NodeStateEvent,
  NodeValue,
  NodeView,
  RecordEvent,
  ServiceEvent,
  ServiceView,
  StatsSample,
  StatsView,
  StatusView,
} from './types.js'

export type Connection = 'connecting' | 'live' | 'reconnecting'

/** Newest jobs read at load to fill the jobs-finished-per-minute chart (events add the rest). */
const FINISHED_SEED_JOBS = 1_000
/** Jobs read per state to show what runs on each node. */
const ACTIVE_JOBS_LIMIT = 1_000
/** Latest views of jobs from events, for rows fetched before the event. */
const RECENT_JOBS_MAX = 20_000
const STATS_MAX_SAMPLES = 720
const LAGS_KEPT = 200
/** A failed read at (re)connection is tried again after this long. */
const RESYNC_RETRY_MS = 2_000
/**
 * Nodes' load and free memory are re-read this often while the page is shown: they are not in the node records'
 * news (an idle mesh gossips nothing), each node answers them when asked.
 */
const USAGE_REFRESH_MS = 10_000
/** Job counts per state are re-read at most this often while jobs change. */
const TOTALS_REFRESH_MS = 1_000

type StreamEvent =
  | { type: 'record'; data: RecordEvent }
  | { type: 'node'; data: NodeStateEvent }
  | { type: 'coordinator'; data: CoordinatorView }
  | { type: 'job'; data: JobView }
  | { type: 'service'; data: ServiceEvent }

export class ClusterStore {
  status: StatusView | undefined
  readonly nodes = new Map<string, NodeView>()
  coordinator: CoordinatorView | undefined
  /** Jobs assigned to or running on a node, by id. */
  readonly activeJobs = new Map<string, JobView>()
  /** Undefined until known; false when this daemon answers no jobs API. */
  jobsApi: boolean | undefined
  /** Every service, by name, as the latest read or event described it. */
  readonly services = new Map<string, ServiceView>()
  /** Undefined until known; false when this daemon answers no services API. */
  servicesApi: boolean | undefined
  jobTotals: Record<JobState, number> | undefined
  readonly finished = new FinishedPerMinute()
  /** Set when the chart was seeded from only the newest jobs of many. */
  finishedSeed: { read: number; total: number } | undefined
  stats: StatsSample[] = []
  statsIntervalMs = 5_000
  connection: Connection = 'connecting'
  /** Why the last resync failed, shown until one succeeds. */
  problem: string | undefined
  /** How long recent record changes took from their write to the page (ms), newest last. */
  readonly lags: number[] = []
  /** Moves on every job change and every inventory change: views holding fetched lists read them again. */
  jobsVersion = 0
  inventoryVersion = 0
  /** Moves on every service change: views holding a service's variables read them again. */
  servicesVersion = 0

  private readonly recentJobs = new Map<string, JobView>()
  private readonly listeners = new Set<() => void>()
  private readonly unknownNodes = new Set<string>()
  private readonly waitingLags: number[] = []
  private source: EventSource | undefined
  private queue: StreamEvent[] | undefined
  private statsTimer: ReturnType<typeof setInterval> | undefined
  private usageTimer: ReturnType<typeof setInterval> | undefined
  private totalsTimer: ReturnType<typeof setTimeout> | undefined
  private seeded = false
  private totalsWatchers = 0
  /** Counts resyncs: one overtaken by a newer one (the stream reconnected meanwhile) leaves the rest to it. */
  private resyncs = 0

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  start(): void {
    if (this.source !== undefined) return
    const source = new EventSource(apiUrl('/v1/events?kinds=node,inventory,job,service'))
    this.source = source
    // Every (re)connection starts from a fresh read, with the events that arrive meanwhile held back.
    source.addEventListener('open', () => void this.resync())
    source.addEventListener('error', () => {
      if (this.connection === 'live') {
        this.connection = 'reconnecting'
        this.changed()
      }
    })
    for (const type of ['record', 'node', 'coordinator', 'job', 'service'] as const) {
      source.addEventListener(type, (event) => {
        this.receive({ type, data: JSON.parse((event as MessageEvent<string>).data) } as StreamEvent)
      })
    }
    void this.pollStats()
    this.statsTimer = setInterval(() => void this.pollStats(), this.statsIntervalMs)
    this.usageTimer = setInterval(() => void this.pollUsage(), USAGE_REFRESH_MS)
  }

  stop(): void {
    this.source?.close()
    this.source = undefined
    clearInterval(this.statsTimer)
    clearInterval(this.usageTimer)
    clearTimeout(this.totalsTimer)
  }

  /**
   * Keeps the job counts per state current while the caller shows them (the jobs filter); they cost a read per
   * state, so nobody pays for them while no view shows them. Returns the function that stops watching.
   */
  watchTotals(): () => void {
    this.totalsWatchers++
    this.scheduleTotals(0)
    return () => {
      this.totalsWatchers--
    }
  }

  /** Jobs as the latest events described them, oldest event first. */
  get jobEvents(): ReadonlyMap<string, JobView> {
    return this.recentJobs
  }

  jobById(id: string): JobView | undefined {
    return this.recentJobs.get(id)
  }

  /** The holder, if a lease is held. */
  coordinatorId(): string | undefined {
    const view = this.coordinator
    return view?.status === 'held' && view.holder !== null ? view.holder : undefined
  }

  /** Called once the page shows what changed: turns the waiting write times into lags. */
  rendered(now = Date.now()): void {
    for (const wall of this.waitingLags.splice(0)) this.lags.push(now - wall)
    if (this.lags.length > LAGS_KEPT) this.lags.splice(0, this.lags.length - LAGS_KEPT)
  }

  private changed(): void {
    for (const listener of this.listeners) listener()
  }

  private receive(event: StreamEvent): void {
    if (this.queue !== undefined) this.queue.push(event)
    else this.apply(event)
  }

  private apply(event: StreamEvent): void {
    switch (event.type) {
      case 'record':
        this.applyRecord(event.data)
        break
      case 'node': {
        const node = this.nodes.get(event.data.id)
        if (node === undefined) this.fetchNode(event.data.id)
        else this.nodes.set(node.id, { ...node, state: event.data.state })
        break
      }
      case 'coordinator':
        this.coordinator = event.data
        break
      case 'job':
        this.applyJob(event.data)
        break
      case 'service':
        this.applyService(event.data)
        break
    }
    this.changed()
  }

  private applyRecord(record: RecordEvent): void {
    if (record.kind === 'inventory') {
      this.inventoryVersion++
      return
    }
    if (record.kind !== 'node') return
    const id = record.key.slice('node/'.length)
    if (record.deleted) {
      this.nodes.delete(id)
      return
    }
    const updated = applyNodeRecord(this.nodes.get(id), record.value as NodeValue, record.stamp.wall)
    if (updated === undefined) {
      this.fetchNode(id)
      return
    }
    this.nodes.set(id, updated)
    // A hidden page draws nothing until it is shown again: that wait is not the page's lag.
    if (!document.hidden) this.waitingLags.push(record.stamp.wall)
  }

  private applyJob(job: JobView): void {
    this.jobsApi = true
    this.recentJobs.delete(job.id)
    this.recentJobs.set(job.id, job)
    if (this.recentJobs.size > RECENT_JOBS_MAX) {
      const oldest = this.recentJobs.keys().next().value
      if (oldest !== undefined) this.recentJobs.delete(oldest)
    }
    if (isActive(job.state)) this.activeJobs.set(job.id, job)
    else this.activeJobs.delete(job.id)
    if (isFinal(job.state) && job.finishedAt !== null) this.finished.add(job.id, job.finishedAt)
    this.jobsVersion++
    this.scheduleTotals()
  }

  private applyService(event: ServiceEvent): void {
    this.servicesApi = true
    if ('removed' in event) this.services.delete(event.name)
    else this.services.set(event.name, event)
    this.servicesVersion++
  }

  private fetchNode(id: string): void {
    if (this.unknownNodes.has(id)) return
    this.unknownNodes.add(id)
    getJson<NodeView>(`/v1/nodes/${encodeURIComponent(id)}`)
      .then((node) => {
        this.nodes.set(node.id, node)
        this.changed()
      })
      .catch(() => undefined) // gone again, or not yet known there: the next record or resync brings it
      .finally(() => this.unknownNodes.delete(id))
  }

  private async resync(): Promise<void> {
    const resync = ++this.resyncs
    this.queue = []
    try {
      // One round of reads at once: the mesh is drawn as soon as they are all in.
      const [status, nodes, coordinator, active, services] = await Promise.all([
        getJson<StatusView>('/v1/status'),
        getJson<NodeView[]>('/v1/nodes?all=1'),
        getJson<CoordinatorView>('/v1/coordinator'),
        this.readActiveJobs(),
        this.readServices(),
      ])
      if (resync !== this.resyncs) return
      this.status = status
      this.coordinator = coordinator
      this.nodes.clear()
      for (const node of nodes) this.nodes.set(node.id, node)
      this.jobsApi = active !== undefined
      this.recentJobs.clear()
      this.activeJobs.clear()
      for (const job of active ?? []) this.activeJobs.set(job.id, job)
      this.servicesApi = services !== undefined
      this.services.clear()
      for (const service of services ?? []) this.services.set(service.name, service)
      this.servicesVersion++
      this.connection = 'live'
      this.problem = undefined
    } catch (err) {
      if (resync !== this.resyncs) return
      this.problem = (err as Error).message
      this.connection = 'reconnecting'
      // The stream may stay open while a read failed: nothing else would try again.
      setTimeout(() => {
        if (resync === this.resyncs && this.source !== undefined) void this.resync()
      }, RESYNC_RETRY_MS)
    }
    const queued = this.queue
    this.queue = undefined
    for (const event of queued) this.apply(event)
    this.scheduleTotals(0)
    this.changed()
  }

  /** Jobs on nodes now; undefined when the daemon has no jobs API. */
  private async readActiveJobs(): Promise<JobView[] | undefined> {
    try {
      const lists = await Promise.all(
        ACTIVE_STATES.map((state) => getJson<JobList>(`/v1/jobs?state=${state}&limit=${ACTIVE_JOBS_LIMIT}`)),
      )
      return lists.flatMap((list) => list.jobs)
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.code === 'SHOAL_NOT_FOUND') return undefined
      throw err
    }
  }

  /** Every service; undefined when the daemon has no services API (an older daemon). */
  private async readServices(): Promise<ServiceView[] | undefined> {
    try {
      return await getJson<ServiceView[]>('/v1/services')
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.code === 'SHOAL_NOT_FOUND') return undefined
      throw err
    }
  }

  /**
   * Fills the jobs-finished-per-minute chart with the jobs that finished before the page opened (events count
   * the rest); read once, when a view first shows the chart.
   */
  seedFinished(): void {
    if (this.seeded || this.jobsApi !== true) return
    this.seeded = true
    getJson<JobList>(`/v1/jobs?limit=${FINISHED_SEED_JOBS}`)
      .then((recent) => {
        for (const job of recent.jobs) {
          if (isFinal(job.state) && job.finishedAt !== null) this.finished.add(job.id, job.finishedAt)
        }
        this.finishedSeed =
          recent.total > recent.jobs.length ? { read: recent.jobs.length, total: recent.total } : undefined
        this.changed()
      })
      .catch(() => {
        this.seeded = false // the next showing of the chart tries again
      })
  }

  private async readTotals(): Promise<void> {
    // One request: the list answers with the count of jobs in every state.
    this.jobTotals = (await getJson<JobList>('/v1/jobs?limit=1')).counts
  }

  private scheduleTotals(delayMs = TOTALS_REFRESH_MS): void {
    if (this.totalsTimer !== undefined || this.totalsWatchers === 0 || this.jobsApi !== true) return
    this.totalsTimer = setTimeout(() => {
      this.readTotals()
        .then(() => this.changed())
        .catch(() => undefined) // the next change or resync reads them again
        .finally(() => {
          this.totalsTimer = undefined
        })
    }, delayMs)
  }

  /** Re-reads the nodes' live usage into the views the page has (a hidden page asks nothing). */
  private async pollUsage(): Promise<void> {
    if (document.hidden || this.connection !== 'live') return
    try {
      const read = await getJson<NodeView[]>('/v1/nodes?all=1')
      for (const node of read) {
        const existing = this.nodes.get(node.id)
        if (existing !== undefined) this.nodes.set(node.id, applyUsage(existing, node))
      }
      this.changed()
    } catch {
      // The event stream shows the connection's state; the next poll tries again.
    }
  }

  private async pollStats(): Promise<void> {
    const last = this.stats.at(-1)
    try {
      const view = await getJson<StatsView>(
        last === undefined ? '/v1/stats' : `/v1/stats?since=${encodeURIComponent(last.at)}`,
      )
      this.statsIntervalMs = view.intervalMs
      this.stats.push(...view.samples)
      if (this.stats.length > STATS_MAX_SAMPLES) this.stats.splice(0, this.stats.length - STATS_MAX_SAMPLES)
      if (view.samples.length > 0) this.changed()
    } catch {
      // The event stream shows the connection's state; the next poll tries again.
    }
  }
}
