// Writes run records in small batches: reports within RUN_FLUSH_MS share one state write (and one gossip message).
import type { Logger } from 'pino'
import type { ReplicatedState } from '../state/index.js'
import { RUN_FLUSH_MS } from './constants.js'
import { type RunValue, runKey } from './records.js'

export class RunWriter {
  private readonly pending = new Map<string, RunValue>()
  private timer: NodeJS.Timeout | undefined
  private flushing: Promise<void> = Promise.resolve()

  constructor(
    private readonly state: ReplicatedState,
    private readonly log: Logger,
  ) {}

  /** Queues a report; a later report of the same attempt before the flush replaces it. */
  report(jobId: string, value: RunValue): void {
    this.pending.set(runKey(jobId, value.attempt), value)
    this.timer ??= setTimeout(() => {
      this.timer = undefined
      void this.flush()
    }, RUN_FLUSH_MS)
  }

  /** Writes everything queued; resolves when it is durable. */
  flush(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.pending.size === 0) return this.flushing
    const writes = [...this.pending].map(([key, value]) => ({ key, value }))
    this.pending.clear()
    this.flushing = this.flushing
      .then(() => this.state.write(writes))
      .then(
        () => undefined,
        (err: Error) => this.log.error({ err, count: writes.length }, 'could not write run reports'),
      )
    return this.flushing
  }
}
