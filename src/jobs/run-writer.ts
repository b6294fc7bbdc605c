// Writes run records in small batches (one state write, one gossip message); `running` reports wait to be needed.
import type { Logger } from 'pino'
import {
  RUN_BUSY_GAP_MS,
  RUN_FLOOD_GAP_MS,
  RUN_FLOOD_REPORTS,
  RUN_FLUSH_MS,
  RUNNING_REPORT_DELAY_MS,
} from './constants.js'
import type { RunValue } from './records.js'

/** Writes a batch of run reports (job id and report), durably; the job book's writes, in practice. */
export type WriteRunReports = (
  reports: ReadonlyArray<readonly [id: string, value: RunValue]>,
) => Promise<unknown>

interface Queued {
  jobId: string
  value: RunValue
  /** performance.now() from which it is written. */
  due: number
}

export class RunWriter {
  private readonly pending = new Map<string, Queued>()
  /** Reports handed to a write that has not resolved yet (by `<job>/<attempt>`, with how many writes hold each). */
  private readonly inFlight = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private timerDue = Number.POSITIVE_INFINITY
  /** performance.now() before which no write follows: the busy gap after the last (longer after a flood). */
  private nextWriteNotBefore = Number.NEGATIVE_INFINITY
  private flushing: Promise<void> = Promise.resolve()

  /**
   * @param onSettled called with the jobs of a write once it has resolved (or failed) and the writer holds
   *   nothing more of them: what waited on `holds` can look again.
   */
  constructor(
    private readonly writeReports: WriteRunReports,
    private readonly log: Logger,
    private readonly onSettled: (jobIds: readonly string[]) => void = () => undefined,
  ) {}

  /**
   * Queues a report; a later report of the same attempt before it is written replaces it (and keeps its
   * deadline, if that is sooner). An end is written within RUN_FLUSH_MS; `running` after
   * RUNNING_REPORT_DELAY_MS, so a job that ends before never reports it, unless `soon` asks for it within
   * RUN_FLUSH_MS too. Writes are spaced RUN_BUSY_GAP_MS apart at least (a busy node's reports share a record),
   * RUN_FLOOD_GAP_MS after a write of RUN_FLOOD_REPORTS or more.
   */
  report(jobId: string, value: RunValue, soon = false): void {
    const delay = value.state === 'running' && !soon ? RUNNING_REPORT_DELAY_MS : RUN_FLUSH_MS
    const key = `${jobId}/${value.attempt}`
    // A report that replaces one not yet written keeps the earlier deadline.
    const due = Math.min(performance.now() + delay, this.pending.get(key)?.due ?? Number.POSITIVE_INFINITY)
    this.pending.set(key, { jobId, value, due })
    if (due < this.timerDue) this.wakeAt(due)
  }

  /**
   * True while a report of this attempt is queued or being written: the job book (which learns of a report once
   * it is durable) does not show it yet, so what this node last said of the attempt is here, not there.
   */
  holds(jobId: string, attempt: number): boolean {
    const key = `${jobId}/${attempt}`
    return this.pending.has(key) || this.inFlight.has(key)
  }

  /** Writes everything queued, due or not; resolves when it is durable. */
  flush(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    this.timerDue = Number.POSITIVE_INFINITY
    return this.write(Number.POSITIVE_INFINITY)
  }

  private wakeAt(due: number): void {
    clearTimeout(this.timer)
    this.timerDue = due
    const at = Math.max(due, this.nextWriteNotBefore)
    this.timer = setTimeout(
      () => {
        this.timer = undefined
        this.timerDue = Number.POSITIVE_INFINITY
        void this.write(performance.now())
      },
      Math.max(0, at - performance.now()),
    )
  }

  private write(upTo: number): Promise<void> {
    const writes: Array<readonly [id: string, value: RunValue]> = []
    const keys: string[] = []
    let next = Number.POSITIVE_INFINITY
    for (const [key, queued] of this.pending) {
      if (queued.due <= upTo) {
        writes.push([queued.jobId, queued.value])
        keys.push(key)
        this.pending.delete(key)
      } else next = Math.min(next, queued.due)
    }
    for (const key of keys) this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1)
    if (writes.length > 0) {
      const flood = writes.length >= RUN_FLOOD_REPORTS
      this.nextWriteNotBefore = performance.now() + (flood ? RUN_FLOOD_GAP_MS : RUN_BUSY_GAP_MS)
    }
    if (next < this.timerDue) this.wakeAt(next)
    if (writes.length === 0) return this.flushing
    this.flushing = this.flushing
      .then(() => this.writeReports(writes))
      .then(
        () => undefined,
        (err: Error) => this.log.error({ err, count: writes.length }, 'could not write run reports'),
      )
      .finally(() => {
        for (const key of keys) {
          const left = (this.inFlight.get(key) ?? 1) - 1
          if (left > 0) this.inFlight.set(key, left)
          else this.inFlight.delete(key)
        }
        const settled = writes.filter(([id, value]) => !this.holds(id, value.attempt)).map(([id]) => id)
        if (settled.length > 0) this.onSettled(settled)
      })
    return this.flushing
  }
}
