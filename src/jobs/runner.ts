// The runner on every node: starts the attempts assigned to it, enforces timeouts and cancels, stops moved work.
import { readdir, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Logger } from 'pino'
import { asShoalError, DriverUnavailableError, JobRefusedError } from '../errors.js'
import { type LongTimer, setLongTimeout } from '../util/long-timer.js'
import { Admission } from './admission.js'
import { RUN_ATTEMPTS_KEPT } from './constants.js'
import type { Execution, Exit, JobDriver } from './drivers/driver.js'
import { stopLeftover } from './drivers/exec.js'
import type { GpuAllocation } from './gpu-allocation.js'
import type { JobBook } from './job-book.js'
import { logPathOf } from './logs.js'
import type { JobMetrics } from './metrics.js'
import type { Amounts } from './placement.js'
import { type JobPolicy, policyRefusal } from './policy.js'
import type { RunState } from './records.js'
import { RunWriter, type WriteRunReports } from './run-writer.js'
import type { JobSpec } from './spec.js'
import { cancelRequested } from './view.js'
import { makeJobDir, prepareWorkdir } from './workdir.js'

export interface RunnerComponents {
  /** This node's peer id. */
  self: string
  jobs: JobBook
  /** Writes this node's run reports (durably). */
  writeReports: WriteRunReports
  /** What this node offers jobs (from its own node record); undefined until that is known. */
  capacity(): Amounts | undefined
  /** This node's GPUs, by attempt (one allocation per node: whatever else runs work here takes from it too). */
  gpus: GpuAllocation
  drivers: Partial<Record<'exec' | 'docker', JobDriver>>
  /** What this node accepts to run now (a reload may change it): work it forbids is refused, never started. */
  policy(): JobPolicy
  /** Each attempt's log keeps at most this many bytes of output. */
  logMaxBytes: number
  dataDir: string
  metrics: JobMetrics
  log: Logger
  now(): number
}

type Ending = 'timed-out' | 'cancelled' | 'moved' | 'shutdown'

interface Attempt {
  id: string
  attempt: number
  execution: Execution | undefined
  startedAt: number
  /** Set when the runner (not the job itself) ends it. */
  ending: Ending | undefined
  /** The attempt's timeout: a user's duration, possibly longer than Node's 24.8-day timer limit. */
  timer: LongTimer | undefined
  /** Stop requested before the driver had started it. */
  stopRequested: boolean
}

/** An attempt assigned here, waiting for room (queued ahead, or placements that overlapped). */
interface Waiting {
  spec: JobSpec
  attempt: number
}

export class Runner {
  private readonly self: string
  private readonly attempts = new Map<string, Attempt>()
  private readonly writer: RunWriter
  private readonly admission: Admission<Waiting>
  /** Jobs whose look waited for a report of theirs the writer still held (see `look`). */
  private readonly deferred = new Set<string>()
  private started = false
  private unwatch: (() => void) | undefined

  constructor(private readonly c: RunnerComponents) {
    this.self = c.self
    this.writer = new RunWriter(c.writeReports, c.log, (ids) => {
      for (const id of ids) if (this.deferred.delete(id)) this.look(id)
    })
    this.admission = new Admission(c.capacity)
  }

  start(): void {
    if (this.started) return
    this.started = true
    // An assignment withdrawn (its coordinator's term was over) stops the copy here too.
    this.unwatch = this.c.jobs.watch(({ id }) => this.look(id), ['assign', 'control'])
    this.stopLeftovers()
    for (const id of this.c.jobs.assignedTo(this.self)) this.look(id)
  }

  /** Stops listening and stops what runs here; the work is reported `lost` so the coordinator runs it again. */
  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    this.unwatch?.()
    this.admission.clear()
    await Promise.all([...this.attempts.values()].map((attempt) => this.end(attempt, 'shutdown')))
    await this.writer.flush()
  }

  /** Attempts running on this node now. */
  runningCount(): number {
    return this.attempts.size
  }

  /** True while this node runs that attempt (log followers stop when it ends). */
  isRunning(jobId: string, attempt: number): boolean {
    return this.attempts.has(`${jobId}/${attempt}`)
  }

  /**
   * Attempts this node reported running before it restarted, and that are no longer its to run (the job
   * moved while it was away): their processes are stopped and the attempts reported lost.
   */
  private stopLeftovers(): void {
    for (const { id, run } of this.c.jobs.reportedRunning(this.self)) {
      const assign = this.c.jobs.assignment(id)
      if (assign?.phase === 'assigned' && assign.node === this.self && assign.attempt === run.attempt)
        continue
      if (run.pid !== null && stopLeftover(run.pid, id, run.attempt)) {
        this.c.log.info(
          { job: id, attempt: run.attempt, pid: run.pid },
          'stopped a copy of a job that moved while this node was away',
        )
      }
      this.report(id, run.attempt, {
        state: 'lost',
        exitCode: null,
        reason: 'its node restarted while it ran',
      })
    }
  }

  /** Looks at a job whose assignment or control changed: start it, stop it, or leave it. */
  private look(id: string): void {
    if (!this.started) return
    const job = this.c.jobs.read(id)
    if (job === undefined) return
    const { assign } = job
    const cancelled = cancelRequested(job)
    const mine = assign?.phase === 'assigned' && assign.node === this.self ? assign.attempt : undefined
    for (const attempt of this.attempts.values()) {
      if (attempt.id !== id) continue
      if (attempt.attempt !== mine) void this.end(attempt, 'moved')
      else if (cancelled) void this.end(attempt, 'cancelled')
    }
    // Waiting for room (one attempt per job at most): one that moved on never started, and the new one reports.
    const waiting = this.admission.get(id)
    if (waiting !== undefined && (waiting.attempt !== mine || cancelled)) {
      this.admission.withdraw(id)
      if (waiting.attempt === mine) {
        this.report(id, mine, { state: 'cancelled', exitCode: null, reason: 'cancelled before it started' })
        return
      }
    }
    if (mine === undefined || this.attempts.has(`${id}/${mine}`) || this.admission.get(id) !== undefined)
      return
    // Ended here a moment ago (or reported otherwise): its report is on its way into the book, which would
    // read as "never started" until then, and run it again or replace its outcome with a cancel.
    if (this.writer.holds(id, mine)) {
      // Looked at again once the writer has it in the book (the change may have been a new assignment).
      this.deferred.add(id)
      return
    }
    const reported = this.c.jobs.run(id, mine)
    if (reported !== undefined && reported.node === this.self && reported.state !== 'running') return
    if (cancelled) {
      this.report(id, mine, { state: 'cancelled', exitCode: null, reason: 'cancelled before it started' })
      return
    }
    if (reported !== undefined && reported.node === this.self && job.spec.driver === 'exec') {
      // Running before this daemon restarted: its output went unwatched, so it is stopped and run again.
      if (reported.pid !== null) stopLeftover(reported.pid, id, mine)
      this.report(id, mine, { state: 'lost', exitCode: null, reason: 'its node restarted while it ran' })
      return
    }
    if (!this.admission.admit(id, job.spec.resources, { spec: job.spec, attempt: mine })) {
      this.c.metrics.waitedForRoom.inc()
      this.c.log.debug({ job: id, attempt: mine, running: this.attempts.size }, 'job waits for room here')
      return
    }
    void this.launch(job.spec, mine)
  }

  /**
   * Starts an attempt. One that waited for room says so at once, in the same batch of run reports as the
   * end that made room for it: the coordinator never sees the node's slot empty, so its start clock does not
   * count the attempt late (a short job's end report then replaces this one before it is written).
   */
  private async launch(spec: JobSpec, attemptNo: number, waited = false): Promise<void> {
    const attempt: Attempt = {
      id: spec.id,
      attempt: attemptNo,
      execution: undefined,
      startedAt: this.c.now(),
      ending: undefined,
      timer: undefined,
      stopRequested: false,
    }
    const key = `${spec.id}/${attemptNo}`
    this.attempts.set(key, attempt)
    const gpus = this.c.gpus.take(key, spec.resources.gpu)
    if (waited) {
      const running = {
        state: 'running',
        exitCode: null,
        reason: null,
        startedAt: attempt.startedAt,
      } as const
      this.report(spec.id, attemptNo, running, { soon: true })
    }
    const driver = this.c.drivers[spec.driver]
    let exit: Exit
    try {
      // Placement honours the policy nodes advertise; a coordinator that did not (a stale record, a hostile
      // member) gets a refusal here.
      const refusal = policyRefusal(spec, this.c.policy())
      if (refusal !== undefined) throw new JobRefusedError(refusal)
      if (driver === undefined) throw new DriverUnavailableError(`this node has no ${spec.driver} driver`)
      const logPath = logPathOf(this.c.dataDir, spec.id, attemptNo)
      const jobDir = dirname(logPath)
      // A container's workdir is a path inside the container: only an exec job's is on this node (and making it
      // makes the job's directory too).
      const workdir =
        spec.driver === 'exec'
          ? await prepareWorkdir(jobDir, spec.workdir)
          : await makeJobDir(jobDir).then(() => jobDir)
      await this.pruneLogs(jobDir, attemptNo)
      const env = { SHOAL_JOB_ID: spec.id, SHOAL_ATTEMPT: String(attemptNo), SHOAL_JOB_NAME: spec.name }
      attempt.execution = await driver.start({
        spec,
        attempt: attemptNo,
        logPath,
        logMaxBytes: this.c.logMaxBytes,
        workdir,
        env,
        // A node without GPUs leaves the work's environment alone; one with GPUs hides those not given to it.
        gpus: gpus.length > 0 || this.c.gpus.total() > 0 ? gpus : undefined,
      })
      this.c.metrics.started.inc({ driver: spec.driver })
      if (attempt.stopRequested) void attempt.execution.stop()
      else {
        this.report(spec.id, attemptNo, {
          state: 'running',
          exitCode: null,
          reason: null,
          pid: attempt.execution.pid,
          startedAt: attempt.startedAt,
        })
        if (spec.timeoutMs !== null) {
          attempt.timer = setLongTimeout(() => void this.end(attempt, 'timed-out'), spec.timeoutMs)
        }
      }
      exit = await attempt.execution.ended
    } catch (err) {
      const error = asShoalError(err)
      this.c.log.warn({ job: spec.id, attempt: attemptNo, err: error.message }, 'job could not start')
      exit = { exitCode: null, reason: `${error.code}: ${error.message}` }
    }
    const endedAt = this.c.now()
    attempt.timer?.clear()
    this.attempts.delete(key)
    this.c.gpus.release(key)
    for (const next of this.admission.release(spec.resources)) void this.launch(next.spec, next.attempt, true)
    const state = finalState(attempt.ending, exit)
    if (state === undefined) return
    this.c.metrics.finished.inc({ state })
    const reason =
      attempt.ending === 'timed-out'
        ? `ran longer than its ${spec.timeoutMs} ms timeout`
        : attempt.ending === 'cancelled'
          ? 'cancelled while running'
          : attempt.ending === 'shutdown'
            ? 'its node stopped while it ran'
            : exit.reason
    this.report(spec.id, attemptNo, {
      state,
      exitCode: exit.exitCode,
      reason,
      pid: attempt.execution?.pid ?? null,
      startedAt: attempt.startedAt,
      finishedAt: endedAt,
    })
  }

  /** Removes the logs of this job's attempts older than the last RUN_ATTEMPTS_KEPT (their reports go too). */
  private async pruneLogs(jobDir: string, attemptNo: number): Promise<void> {
    const oldest = attemptNo - RUN_ATTEMPTS_KEPT
    if (oldest < 1) return
    for (const name of await readdir(jobDir)) {
      const match = /^(\d+)\.log$/.exec(name)
      if (match !== null && Number(match[1]) <= oldest) await rm(join(jobDir, name), { force: true })
    }
  }

  private async end(attempt: Attempt, ending: Ending): Promise<void> {
    if (attempt.ending !== undefined) return
    attempt.ending = ending
    attempt.timer?.clear()
    if (ending === 'moved')
      this.c.log.info(
        { job: attempt.id, attempt: attempt.attempt },
        'job moved elsewhere: stopping this copy',
      )
    if (attempt.execution === undefined) {
      attempt.stopRequested = true
      return
    }
    await attempt.execution.stop()
  }

  private report(
    id: string,
    attempt: number,
    outcome: {
      state: RunState
      exitCode: number | null
      reason: string | null
      pid?: number | null
      startedAt?: number
      finishedAt?: number
    },
    options: { soon?: boolean } = {},
  ): void {
    const previous = this.c.jobs.run(id, attempt)
    const now = this.c.now()
    const running = outcome.state === 'running'
    this.writer.report(
      id,
      {
        node: this.self,
        attempt,
        state: outcome.state,
        exitCode: outcome.exitCode,
        reason: outcome.reason,
        startedAt: outcome.startedAt ?? previous?.startedAt ?? null,
        finishedAt: running ? null : (outcome.finishedAt ?? now),
        pid: outcome.pid ?? previous?.pid ?? null,
      },
      options.soon === true,
    )
  }
}

/** How an attempt ended, for its run record; undefined when it was moved away (the new attempt reports). */
function finalState(ending: Ending | undefined, exit: Exit): RunState | undefined {
  if (ending === 'moved') return undefined
  if (ending === 'timed-out' || ending === 'cancelled') return ending
  if (ending === 'shutdown') return 'lost'
  return exit.exitCode === 0 ? 'succeeded' : 'failed'
}
