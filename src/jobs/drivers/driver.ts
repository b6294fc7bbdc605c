// What a job driver does: start one attempt of a job, report how it ended, stop it on request.
import type { JobSpec } from '../spec.js'

export interface StartRequest {
  spec: JobSpec
  attempt: number
  /** The attempt's log file (stdout and stderr, interleaved). */
  logPath: string
  /** The log keeps this many bytes of output, then says it was cut; the rest is read and dropped. */
  logMaxBytes: number
  /** The job's working directory on this node (exec), created by the runner. */
  workdir: string
  /** Extra environment every job gets: SHOAL_JOB_ID, SHOAL_ATTEMPT, SHOAL_JOB_NAME (a job never gets the daemon's own). */
  env: Record<string, string>
  /**
   * The node's GPUs (device indices, PCI bus order) this attempt holds, none shared with another attempt; empty
   * when it asked for none on a node that has some (they are hidden from it). Undefined on a node without GPUs.
   */
  gpus?: readonly number[]
  /** The container's name (docker); @default shoal-<job id>-<attempt> */
  containerName?: string
  /** The container's labels (docker); @default shoal.job and shoal.attempt */
  labels?: Record<string, string>
  /** Host paths mounted into the container (docker), as `host:container[:ro]`. */
  binds?: string[]
}

export interface Exit {
  /** The exit code, or null when it died of a signal. */
  exitCode: number | null
  /** Why it did not exit 0, in words, or null. */
  reason: string | null
}

export interface Execution {
  /** Process group id (exec), so that a restarted daemon can stop what it left behind; null for containers. */
  pid: number | null
  /** Resolves when the job has ended and its log is complete. */
  ended: Promise<Exit>
  /** Asks it to stop (SIGTERM, then SIGKILL after a grace period); `ended` resolves afterwards. */
  stop(): Promise<void>
}

export interface JobDriver {
  readonly name: 'exec' | 'docker'
  /** Starts the attempt, or takes over one already started under the same name (a restart); throws if it cannot. */
  start(request: StartRequest): Promise<Execution>
  /** Releases what the driver holds (a helper process, connections) once nothing runs through it any more. */
  close?(): Promise<void>
}

/** A readable reason for a non-zero exit or a signal. */
export function exitReason(exitCode: number | null, signal: string | null): string | null {
  if (exitCode === 0) return null
  if (exitCode !== null) return `exited with code ${exitCode}`
  return `killed by ${signal ?? 'a signal'}`
}
