// How the CLI ends: one error line `shoal: message [CODE]` and an exit code that says which kind of failure it was.
import { CommanderError } from 'commander'
import {
  DaemonUnreachableError,
  InvalidFlagError,
  InvalidJobError,
  InvalidServiceError,
  ShoalError,
  UsageError,
} from '../src/errors.js'

/** Exit codes, as the README documents them. */
export const EXIT = {
  ok: 0,
  /** The command ran and failed: the daemon refused it, a job did not succeed, a wait ran out. */
  failure: 1,
  /** The command line is wrong (unknown option, malformed value, job or service spec): nothing was done. */
  usage: 2,
  /** No daemon answers on the data directory's socket. */
  noDaemon: 3,
} as const

/** Codes that mean the input was wrong before anything was asked of the mesh. */
const USAGE_CODES = new Set([
  UsageError.code,
  InvalidFlagError.code,
  InvalidJobError.code,
  InvalidServiceError.code,
])

/** Commander's own outcomes that are not failures. */
const COMMANDER_DONE = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help'])

/** Prints `err` in the CLI's one error style and returns the exit code to end with. */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    if (COMMANDER_DONE.has(err.code)) return EXIT.ok
    return reportError(
      new UsageError(`${err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')} (see --help)`),
    )
  }
  if (!(err instanceof ShoalError)) {
    console.error(`shoal: ${(err as Error).message}`)
    return EXIT.failure
  }
  const hint = err instanceof DaemonUnreachableError ? ' (start one with "shoal daemon")' : ''
  console.error(`shoal: ${err.message}${hint} [${err.code}]`)
  if (err instanceof DaemonUnreachableError) return EXIT.noDaemon
  return USAGE_CODES.has(err.code) ? EXIT.usage : EXIT.failure
}
