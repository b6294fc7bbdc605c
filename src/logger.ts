// Structured logging: one pino root per daemon, one named child per part (`shoal:state`, `shoal:mesh`, …).
import { type LevelWithSilent, type Logger, pino } from 'pino'

export type { Logger }

export const LOG_LEVELS: readonly LevelWithSilent[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
]

export interface LoggerInit {
  /** @default 'info' */
  level?: LevelWithSilent
  /** File descriptor logs go to. @default 2 (stderr) */
  fd?: number
  /** Fields added to every line, such as the daemon's short peer id in multi-node tests. */
  base?: Record<string, unknown>
}

export function createRootLogger(init: LoggerInit = {}): Logger {
  return pino(
    {
      level: init.level ?? 'info',
      base: { pid: process.pid, ...init.base },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    // Synchronous so that the last lines before exit are never lost.
    pino.destination({ dest: init.fd ?? 2, sync: true }),
  )
}

/** A named logger for one part of the daemon. */
export function partLogger(root: Logger, part: string): Logger {
  return root.child({ name: `shoal:${part}` })
}
