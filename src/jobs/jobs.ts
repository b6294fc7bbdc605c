// The job service on every node: submissions, views, cancel and retry, waiting, logs; composes scheduler and runner.
import { EventEmitter } from 'node:events'
import { rm } from 'node:fs/promises'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import type { Logger } from 'pino'
import { JobFinishedError, JobNotFinishedError, JobNotFoundError, LogsUnavailableError } from '../errors.js'
import { partLogger } from '../logger.js'
import { setLongTimeout } from '../util/long-timer.js'
import { JobCollector } from './collector.js'
import {
  ARRIVAL_WAIT_MS,
  COLLECT_INTERVAL_MS,
  DEFAULT_JOB_LOG_MAX_BYTES,
  DEFAULT_JOB_RETENTION_MS,
  HANDOVER_SETTLE_MS,
  START_TIMEOUT_MS,
  SUBMIT_BATCH,
} from './constants.js'
import { createDockerDriver } from './drivers/docker.js'
import type { JobDriver } from './drivers/driver.js'
import { createExecDriver } from './drivers/exec.js'
import { GpuAllocation } from './gpu-allocation.js'
import { JobBook, type JobChange } from './job-book.js'
import { fetchLogs, jobDirOf, type LogRequest, logPathOf, readLog, serveLogs } from './logs.js'
import { createJobMetrics, type JobMetrics } from './metrics.js'
import { type Amounts, capacityOf, subtractAmounts, ZERO } from './placement.js'
import { DEFAULT_JOB_POLICY, type JobPolicy } from './policy.js'
import type { ControlValue } from './records.js'
import { Runner } from './runner.js'
import { Scheduler } from './schedule/scheduler.js'
import { JOB_ID_PATTERN, type JobSpec } from './spec.js'
import { isFinal, JOB_STATES, type JobState } from './states.js'
import { prepareSubmission } from './submit.js'
import type {
  JobComponents,
  JobEvents,
  JobInit,
  JobList,
  JobListQuery,
  JobView,
  WaitResult,
} from './types.js'
import { type DerivedState, deriveState } from './view.js'

export class Jobs extends EventEmitter<JobEvents> {
  private readonly log: Logger
  private readonly metrics: JobMetrics
  private readonly scheduler: Scheduler
  private readonly collector: JobCollector
  private readonly runner: Runner
  /** The drivers this node's policy lets it run (docker also needs an engine); services run through them too. */
  readonly drivers: Partial<Record<'exec' | 'docker', JobDriver>> = {}
  /** What this node accepts to run (`--drivers`, `--allow-host-network`; a reload may change it). */
  private policy: JobPolicy
  private readonly now: () => number
  private started = false
  /** Jobs changed since the last 'job:views' event, and the timer that sends it. */
  private readonly viewsDue = new Set<string>()
  private viewsTimer: NodeJS.Timeout | undefined
  /** The submission being written: the next waits for it (see `submit`). */
  private submitting: Promise<unknown> = Promise.resolve()
  /** The jobs part's records, indexed by job (tests and the API read jobs through the service). */
  readonly book: JobBook
  /**
   * Which of this node's GPUs each running attempt holds. One per node: other work placed here (services) takes
   * its devices from it too, so that no two share one.
   */
  readonly gpus: GpuAllocation
  private unwatch: (() => void) | undefined
  /** Also for an assignment withdrawn because its coordinator's term was over: that changes the job too. */
  private readonly onJobChange = ({ id, part, gone }: JobChange): void => {
    this.scheduler.changed(id)
    this.emit('job:changed', id)
    if (this.listenerCount('job:views') > 0) {
      this.viewsDue.add(id)
      this.viewsTimer ??= setTimeout(() => this.emitViews(), 0)
    }
    // Collected after its retention: its logs and working directory here go with it.
    if (gone && part === 'spec') {
      rm(jobDirOf(this.init.dataDir, id), { recursive: true, force: true }).catch((err: Error) =>
        this.log.warn({ job: id, err: err.message }, 'could not remove a collected job’s directory'),
      )
    }
  }

  constructor(
    private readonly components: JobComponents,
    private readonly init: JobInit,
  ) {
    super()
    this.setMaxListeners(0)
    const { state, coordinator, membership, layers } = components
    this.log = partLogger(components.logger, 'jobs')
    this.now = () => (init.clock ?? Date).now()
    this.book = new JobBook(state)
    const book = this.book
    this.metrics = createJobMetrics(components.metrics, {
      running: () => this.runner.runningCount(),
      waiting: () => this.scheduler.waitingCount(),
    })
    this.collector = new JobCollector(
      {
        jobs: book,
        coordinator,
        metrics: this.metrics,
        log: partLogger(components.logger, 'jobs:collector'),
        now: this.now,
      },
      {
        retentionMs: init.retentionMs ?? DEFAULT_JOB_RETENTION_MS,
        intervalMs: init.collectIntervalMs ?? COLLECT_INTERVAL_MS,
      },
    )
    this.scheduler = new Scheduler({
      jobs: book,
      coordinator,
      membership,
      imageBytesHeld: (ref) => layers.imageBytesHeld(ref),
      metrics: this.metrics,
      log: partLogger(components.logger, 'jobs:scheduler'),
      now: this.now,
      startTimeoutMs: init.startTimeoutMs ?? START_TIMEOUT_MS,
      handoverSettleMs: HANDOVER_SETTLE_MS,
      reserved: (node) => this.reserved(node),
    })
    this.policy = init.policy ?? DEFAULT_JOB_POLICY
    this.addDrivers()
    // Every GPU of the node: what services reserve is taken from the same allocation by device.
    this.gpus = new GpuAllocation(() => membership.resourcesOf(state.peerId)?.gpus ?? 0)
    this.runner = new Runner({
      self: state.peerId,
      jobs: book,
      writeReports: (reports) => state.write(book.runWrites(reports)),
      gpus: this.gpus,
      capacity: () => {
        const own = membership.resourcesOf(state.peerId)
        return own === undefined ? undefined : subtractAmounts(capacityOf(own), this.reserved(state.peerId))
      },
      drivers: this.drivers,
      policy: () => this.policy,
      logMaxBytes: init.logMaxBytes ?? DEFAULT_JOB_LOG_MAX_BYTES,
      dataDir: init.dataDir,
      metrics: this.metrics,
      log: partLogger(components.logger, 'jobs:runner'),
      now: this.now,
    })
  }

  /** What other parts hold on each node (services' instances): jobs get what is left. @default nothing */
  private reserved: (node: string) => Amounts = () => ZERO

  /** Tells the scheduler and the runner what services hold on each node. */
  shareNodesWith(reserved: (node: string) => Amounts): void {
    this.reserved = reserved
  }

  /** What the jobs this node placed as coordinator need, by node (services place around them). */
  placedUsage(): ReadonlyMap<string, Amounts> {
    return this.scheduler.placedUsage()
  }

  /** What this node accepts to run now (services judge their instances by it too). */
  currentPolicy(): JobPolicy {
    return this.policy
  }

  /** A new policy (a reload): the runner judges work by it from now on; drivers it enables are made. */
  setPolicy(policy: JobPolicy): void {
    this.policy = policy
    this.addDrivers()
  }

  /** Makes the drivers the policy enables that are not made yet (docker only with an engine). */
  private addDrivers(): void {
    const { docker, layers, logger } = this.components
    if (this.policy.drivers.exec) this.drivers.exec ??= createExecDriver()
    if (docker !== undefined && this.policy.drivers.docker) {
      this.drivers.docker ??= createDockerDriver({
        engine: docker,
        hasImage: (ref) => docker.hasImage(ref),
        pullImage: async (ref) => {
          await layers.pull(ref, () => undefined)
        },
        log: partLogger(logger, 'jobs:docker'),
      })
    }
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    await serveLogs(this.components.mesh, (request, signal) => this.localLog(request, signal))
    this.book.start()
    this.unwatch = this.book.watch(this.onJobChange)
    this.runner.start()
    this.scheduler.start()
    this.collector.start()
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    this.unwatch?.()
    clearTimeout(this.viewsTimer)
    this.viewsTimer = undefined
    await this.collector.stop()
    await this.scheduler.stop()
    await this.runner.stop()
    this.book.stop()
    await Promise.all(Object.values(this.drivers).map((driver) => driver.close?.()))
  }

  private emitViews(): void {
    this.viewsTimer = undefined
    const views: JobView[] = []
    for (const id of this.viewsDue) {
      // Parts of a job can arrive before its spec (its view follows with the spec); a collected job has none.
      const view = this.viewOf(id)
      if (view !== undefined) views.push(view)
    }
    this.viewsDue.clear()
    if (views.length > 0) this.emit('job:views', views)
  }

  /**
   * Validates and writes a submission (all or nothing); returns every submitted job, new or already known.
   * Submissions on one node go one at a time: a job is known to the book only once its spec is durable, so two
   * at once with the same submission id would both find it new and write it twice.
   */
  submit(inputs: readonly unknown[]): Promise<{ jobs: JobView[]; created: number }> {
    const submitted = this.submitting.then(() => this.submitNow(inputs))
    this.submitting = submitted.catch(() => undefined)
    return submitted
  }

  private async submitNow(inputs: readonly unknown[]): Promise<{ jobs: JobView[]; created: number }> {
    const { state } = this.components
    const submission = await prepareSubmission(inputs, {
      now: this.now(),
      submittedBy: state.peerId,
      // A job collected after its retention leaves a tombstone: its submission id makes a new one.
      exists: (id) => this.book.has(id),
    })
    for (let i = 0; i < submission.fresh.length; i += SUBMIT_BATCH) {
      const batch = submission.fresh.slice(i, i + SUBMIT_BATCH)
      await state.write(this.book.specWrites(batch))
      if (i + SUBMIT_BATCH < submission.fresh.length) await yieldToLoop()
    }
    if (submission.fresh.length > 0) this.log.info({ count: submission.fresh.length }, 'jobs submitted')
    return { jobs: submission.ids.map((id) => this.view(id)), created: submission.fresh.length }
  }

  /** One job by id (or a unique prefix of one). */
  view(ref: string): JobView {
    const view = this.viewOf(this.resolve(ref))
    if (view === undefined) throw new JobNotFoundError(`no job ${ref}`)
    return view
  }

  /** The job's view, if its spec is here. */
  private viewOf(id: string): JobView | undefined {
    const records = this.book.read(id)
    return records === undefined ? undefined : this.toView(records.spec, deriveState(records))
  }

  /**
   * A page of the jobs matching the query, newest first; `total` counts every match, and `counts` the jobs in
   * each state that match the query but for its state (what a state filter would show).
   */
  list(query: JobListQuery = {}): JobList {
    const tags = Object.entries(query.tags ?? {})
    const matched: Array<{ spec: JobSpec; derived: DerivedState }> = []
    const counts = Object.fromEntries(JOB_STATES.map((name) => [name, 0])) as Record<JobState, number>
    for (const spec of this.book.allSpecs()) {
      if (tags.some(([key, value]) => spec.tags[key] !== value)) continue
      if (query.name !== undefined && !spec.name.includes(query.name)) continue
      const records = this.book.read(spec.id)
      if (records === undefined) continue
      const derived = deriveState(records)
      if (query.node !== undefined && derived.node !== query.node) continue
      counts[derived.state]++
      if (query.states !== undefined && !query.states.includes(derived.state)) continue
      matched.push({ spec, derived })
    }
    matched.sort((a, b) => b.spec.createdAt - a.spec.createdAt || (a.spec.id < b.spec.id ? -1 : 1))
    const offset = query.offset ?? 0
    const limit = query.limit ?? matched.length
    const page = matched.slice(offset, offset + limit)
    return {
      jobs: page.map(({ spec, derived }) => this.toView(spec, derived)),
      total: matched.length,
      counts,
    }
  }

  /** Asks for a job to be cancelled; a running attempt is stopped by its node. */
  async cancel(ref: string): Promise<JobView> {
    const current = this.view(ref)
    if (isFinal(current.state)) throw new JobFinishedError(`job ${current.id} has already ${current.state}`)
    const generation = this.generationOf(current.id)
    await this.writeControl(current.id, { generation, cancel: true, at: this.now() })
    return this.view(current.id)
  }

  /** Runs a finished job again (a new generation: attempts and retries start over). */
  async retry(ref: string): Promise<JobView> {
    const current = this.view(ref)
    if (!isFinal(current.state)) {
      throw new JobNotFinishedError(
        `job ${current.id} is ${current.state}; only a finished job can be retried`,
      )
    }
    const generation = this.generationOf(current.id) + 1
    await this.writeControl(current.id, { generation, cancel: false, at: this.now() })
    return this.view(current.id)
  }

  /** Resolves when every job has finished, or when the time is up (then `timedOut` says so). */
  async wait(refs: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<WaitResult> {
    const ids = await this.arrived(refs, Math.min(timeoutMs, ARRIVAL_WAIT_MS))
    // A job collected meanwhile (past its retention) had finished: only finished jobs are collected.
    const finished = (id: string): boolean => {
      const records = this.book.read(id)
      return records === undefined || isFinal(deriveState(records).state)
    }
    const all = await this.until(ids, finished, timeoutMs, signal)
    return { jobs: ids.map((id) => this.view(id)), timedOut: !all }
  }

  /**
   * Full ids of jobs; a job just submitted on another node may still be on its way here, so a well-formed id
   * not known yet is given up to `graceMs` to arrive before it counts as unknown.
   */
  private async arrived(refs: readonly string[], graceMs: number): Promise<string[]> {
    const wellFormed = refs.filter((ref) => JOB_ID_PATTERN.test(ref))
    await this.until(wellFormed, (id) => this.book.known(id), graceMs)
    return refs.map((ref) => this.view(ref).id)
  }

  /** Resolves true once `done` holds for every id at once (checked now and on each change), false if time runs out first. */
  private until(
    ids: readonly string[],
    done: (id: string) => boolean,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const watched = new Set(ids)
    const open = new Set(ids.filter((id) => !done(id)))
    if (open.size === 0) return Promise.resolve(true)
    return new Promise((resolve) => {
      // A job can also leave `done` again (its assignment withdrawn with a deposed coordinator's term):
      // it is waited for again, so all are done at once when this resolves.
      const onChange = (id: string): void => {
        if (!watched.has(id)) return
        if (!done(id)) open.add(id)
        else if (open.delete(id) && open.size === 0) finish(true)
      }
      const finish = (all: boolean): void => {
        timer.clear()
        this.off('job:changed', onChange)
        signal?.removeEventListener('abort', onAbort)
        resolve(all)
      }
      const onAbort = (): void => finish(false)
      const timer = setLongTimeout(() => finish(false), timeoutMs)
      this.on('job:changed', onChange)
      signal?.addEventListener('abort', onAbort)
    })
  }

  /** The log of a job's attempt (the current one by default), from whichever node ran it. */
  logs(
    ref: string,
    options: { attempt?: number; follow: boolean; signal: AbortSignal },
  ): AsyncGenerator<Uint8Array> {
    const current = this.view(ref)
    const attempt = options.attempt ?? current.attempt
    const run = this.book.run(current.id, attempt)
    if (run === undefined) {
      throw new LogsUnavailableError(
        `job ${current.id} attempt ${attempt} has not started on any node yet (it is ${current.state})`,
      )
    }
    const request: LogRequest = { id: current.id, attempt, follow: options.follow }
    if (run.node === this.components.state.peerId) return this.localLog(request, options.signal)
    return fetchLogs(this.components.mesh, run.node, request, options.signal)
  }

  private localLog(request: LogRequest, signal: AbortSignal): AsyncGenerator<Uint8Array> {
    if (!JOB_ID_PATTERN.test(request.id)) throw new JobNotFoundError(`no job ${request.id}`)
    return readLog(logPathOf(this.init.dataDir, request.id, request.attempt), {
      follow: request.follow,
      running: () => this.runner.isRunning(request.id, request.attempt),
      signal,
    })
  }

  private generationOf(id: string): number {
    const control = this.book.control(id)
    const assign = this.book.assignment(id)
    return Math.max(control?.generation ?? 0, assign?.generation ?? 0)
  }

  private async writeControl(id: string, value: ControlValue): Promise<void> {
    await this.components.state.write([this.book.controlWrite(id, value)])
  }

  /** A full id, from an id or a unique prefix of at least 5 characters. */
  private resolve(ref: string): string {
    if (JOB_ID_PATTERN.test(ref)) return ref
    if (ref.length >= 5 && /^j[0-9a-f]+$/.test(ref)) {
      const matches = this.book.ids().filter((id) => id.startsWith(ref))
      if (matches.length === 1) return matches[0]!
      if (matches.length > 1)
        throw new JobNotFoundError(`${ref} matches ${matches.length} jobs; give more of the id`)
    }
    throw new JobNotFoundError(`no job ${ref}`)
  }

  private toView(spec: JobSpec, derived: DerivedState): JobView {
    const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())
    return {
      id: spec.id,
      name: spec.name,
      state: derived.state,
      node: derived.node,
      nodeName: derived.node === null ? null : this.components.membership.nameOf(derived.node),
      attempt: derived.attempt,
      exitCode: derived.exitCode,
      tags: spec.tags,
      createdAt: new Date(spec.createdAt).toISOString(),
      startedAt: iso(derived.startedAt),
      finishedAt: iso(derived.finishedAt),
      reason: derived.reason,
      driver: spec.driver,
      image: spec.image,
      command: spec.command,
      env: spec.env,
      resources: {
        cpu: spec.resources.cpuMillis / 1000,
        memory: spec.resources.memory,
        disk: spec.resources.disk,
        gpu: spec.resources.gpu,
      },
      constraints: spec.constraints,
      timeoutMs: spec.timeoutMs,
      retries: spec.retries,
      restart: spec.restart,
      priority: spec.priority,
      after: spec.after,
      submissionId: spec.submissionId,
    }
  }
}
