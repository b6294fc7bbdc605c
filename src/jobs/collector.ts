// On the coordinator only: deletes the records of jobs that finished longer ago than the retention (`--job-retention`).
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { Coordinator } from '../coordinator/index.js'
import { NotCoordinatorError, StaleTermError } from '../errors.js'
import { COLLECT_SLICE } from './constants.js'
import type { JobBook } from './job-book.js'
import type { JobMetrics } from './metrics.js'
import { isFinal } from './states.js'
import { deriveState } from './view.js'

/** Jobs looked at between yields while scanning for expired ones. */
const SCAN_SLICE = 2_000

/** Batch records deleted per state write: tombstones signed in one go, between which the daemon answers. */
const BATCHES_PER_WRITE = 256

export interface CollectorComponents {
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
 * lifetime); only the coordinator collects, and assignment batches' tombstones are fenced by its term. Records
 * come in batches, so a job goes with the last job of its submission batch (a finished job waits, still shown,
 * until its siblings are past the retention too). A finished job that an unfinished one names in `after` is kept:
 * its outcome decides whether the dependent runs. At most COLLECT_SLICE jobs are considered per round, so a
 * backlog of 100,000 is spread over rounds rather than stalling the coordinator. Batches whose every entry is
 * superseded go every round, whatever the retention, so a service restarted a thousand times does not pile them up.
 */
export class JobCollector {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<unknown> | undefined

  constructor(
    private readonly c: CollectorComponents,
    private readonly init: CollectorInit,
  ) {}

  start(): void {
    if (this.timer !== undefined) return
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

  /**
   * One round: deletes the batches that hold only jobs past the retention (with their controls) or superseded
   * entries (an assignment replaced by a later one, a report replaced by a later report of the same attempt);
   * returns how many jobs went.
   */
  async collect(): Promise<number> {
    const { jobs, coordinator } = this.c
    if (!coordinator.isHolder()) return 0
    const term = coordinator.term()
    const collectable = this.init.retentionMs > 0 ? await this.expired() : new Set<string>()
    // Judged on the records as they are now (the write signs synchronously): a job retried since the scan is
    // no longer final, so its batch stays.
    for (const id of collectable) {
      const job = jobs.read(id)
      if (job === undefined || !isFinal(deriveState(job).state)) collectable.delete(id)
    }
    const garbage = jobs.garbage(collectable)
    // Specs (and reports) go in the same write as assignments, before them: a job seen without its
    // assignment but with its spec would be pending, and placed again.
    const writes = [
      ...garbage.plain.map((write) => ({ write, fenced: false })),
      ...garbage.fenced.map((write) => ({ write, fenced: true })),
    ]
    for (let i = 0; i < writes.length; i += BATCHES_PER_WRITE) {
      const slice = writes.slice(i, i + BATCHES_PER_WRITE)
      await coordinator.writeAsCoordinator(
        term,
        slice.filter((entry) => entry.fenced).map((entry) => entry.write),
        slice.filter((entry) => !entry.fenced).map((entry) => entry.write),
      )
    }
    if (garbage.jobs > 0) {
      this.c.metrics.collected.inc(garbage.jobs)
      this.c.log.info({ jobs: garbage.jobs }, 'collected finished jobs past their retention')
    }
    return garbage.jobs
  }

  /** Finished jobs past the retention that no unfinished job waits on (at most COLLECT_SLICE). */
  private async expired(): Promise<Set<string>> {
    const { jobs } = this.c
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
    return new Set(expired.filter((id) => !neededByUnfinished.has(id)).slice(0, COLLECT_SLICE))
  }

  private logFailure(err: Error): void {
    if (err instanceof NotCoordinatorError || err instanceof StaleTermError) return
    this.c.log.error({ err }, 'collecting finished jobs failed')
  }
}
