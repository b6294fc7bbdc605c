// On the coordinator only: deletes the records of jobs that finished longer ago than the retention (`--job-retention`).
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { Coordinator } from '../coordinator/index.js'
import { NotCoordinatorError, StaleTermError } from '../errors.js'
import type { LocalWrite, ReplicatedState } from '../state/index.js'
import { COLLECT_SLICE } from './constants.js'
import type { JobBook } from './job-book.js'
import type { JobMetrics } from './metrics.js'
import { isFinal } from './states.js'
import { deriveState } from './view.js'

/** Jobs looked at between yields while scanning for expired ones. */
const SCAN_SLICE = 2_000

/** Jobs deleted per state write: three or four tombstones each, signed in one go. */
const JOBS_PER_WRITE = 64

export interface CollectorComponents {
  state: Pick<ReplicatedState, 'write'>
  jobs: JobBook
  coordinator: Pick<Coordinator, 'isHolder' | 'term' | 'writeAsCoordinator'>
  metrics: JobMetrics
  log: Logger
  now(): number
}

export interface CollectorInit {
  /** Finished jobs are kept this long after they end; 0 keeps them for ever. */
  retentionMs: number
  /** How often the coordinator looks for jobs to collect. */
  intervalMs: number
}

/**
 * Deleting is writing tombstones (they replicate like any record and are themselves dropped after their
 * lifetime); only the coordinator collects, and the assignment's tombstone is fenced by its term. A finished job that an unfinished
 * one names in `after` is kept: its outcome decides whether the dependent runs. At most COLLECT_SLICE jobs go
 * per round, so a backlog of 100,000 is spread over rounds rather than stalling the coordinator. A dependent
 * submitted on another node in the moment its parent is collected waits for that parent for ever (it was
 * known when the dependent was checked); cancelling it ends it.
 */
export class JobCollector {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<unknown> | undefined

  constructor(
    private readonly c: CollectorComponents,
    private readonly init: CollectorInit,
  ) {}

  start(): void {
    if (this.timer !== undefined || this.init.retentionMs <= 0) return
    this.timer = setInterval(() => {
      this.running ??= this.collect()
        .catch((err: Error) => this.logFailure(err))
        .finally(() => {
          this.running = undefined
        })
    }, this.init.intervalMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.running
  }

  /** One round: deletes the records of up to COLLECT_SLICE jobs past the retention; returns how many. */
  async collect(): Promise<number> {
    const { state, jobs, coordinator } = this.c
    if (!coordinator.isHolder()) return 0
    const term = coordinator.term()
    // Jobs end and are re-run while the scan yields: each is judged on its records as they are when seen, and
    // a deletion written under a term that has ended meanwhile is refused.
    const cutoff = this.c.now() - this.init.retentionMs
    const neededByUnfinished = new Set<string>()
    const expired: string[] = []
    for (const [index, id] of jobs.ids().entries()) {
      // 100,000 jobs take seconds to look at: the coordinator goes on with its work between slices.
      if (index > 0 && index % SCAN_SLICE === 0) await yieldToLoop()
      const job = jobs.read(id)
      if (job === undefined) continue
      const derived = deriveState(job)
      if (!isFinal(derived.state)) {
        for (const parent of job.spec.after) neededByUnfinished.add(parent)
        continue
      }
      const endedAt = derived.finishedAt ?? job.assign?.at ?? job.spec.createdAt
      if (endedAt <= cutoff) expired.push(job.spec.id)
    }
    const collectable = expired.filter((id) => !neededByUnfinished.has(id)).slice(0, COLLECT_SLICE)
    if (collectable.length === 0) return 0
    let collected = 0
    for (let i = 0; i < collectable.length; i += JOBS_PER_WRITE) {
      // Looked at again just before the write (which signs synchronously): a job retried since the scan stays.
      const fenced: LocalWrite[] = []
      const plain: LocalWrite[] = []
      for (const id of collectable.slice(i, i + JOBS_PER_WRITE)) {
        const job = jobs.read(id)
        if (job === undefined || !isFinal(deriveState(job).state)) continue
        const deletions = jobs.deletions(job)
        fenced.push(...deletions.fenced)
        plain.push(...deletions.plain)
        collected++
      }
      if (fenced.length > 0) await coordinator.writeAsCoordinator(term, fenced)
      if (plain.length > 0) await state.write(plain)
    }
    this.c.metrics.collected.inc(collected)
    this.c.log.info({ jobs: collected }, 'collected finished jobs past their retention')
    return collected
  }

  private logFailure(err: Error): void {
    if (err instanceof NotCoordinatorError || err instanceof StaleTermError) return
    this.c.log.error({ err }, 'collecting finished jobs failed')
  }
}
