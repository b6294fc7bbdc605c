// Structured logging: one pino root per daemon, one named child per part (`shoal:state`, `shoal:mesh`, …).
import { createRequire } from 'node:module'
import { isatty } from 'node:tty'
import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino'
import type PinoPretty from 'pino-pretty'

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

/** `auto`: readable lines on a terminal, JSON lines otherwise (a file, a pipe, journald). */
export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]

export interface LoggerInit {
  /** @default 'info' */
  level?: LevelWithSilent
  /** File descriptor logs go to. @default 2 (stderr) */
  fd?: number
  /** Fields added to every line, such as the daemon's short peer id in multi-node tests. */
  base?: Record<string, unknown>
  /** @default 'json' */
  format?: LogFormat
}

export function createRootLogger(init: LoggerInit = {}): Logger {
  const fd = init.fd ?? 2
  return pino(
    {
      level: init.level ?? 'info',
      base: { pid: process.pid, ...init.base },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination(fd, init.format ?? 'json'),
  )
}

/** Synchronous either way, so that the last lines before exit are never lost. */
function destination(fd: number, format: LogFormat): DestinationStream {
  const readable = format === 'pretty' || (format === 'auto' && isatty(fd))
  if (!readable) return pino.destination({ dest: fd, sync: true })
  // Loaded only for a terminal: a daemon logging JSON (services, tests) never pays for the prettifier.
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty
  return pretty({
    destination: fd,
    sync: true,
    colorize: isatty(fd),
    ignore: 'pid,hostname',
    translateTime: 'SYS:HH:MM:ss.l',
  })
}

/** A named logger for one part of the daemon. */
export function partLogger(root: Logger, part: string): Logger {
  const child = root.child({ name: `shoal:${part}` })
  let parts = partsOf.get(root)
  if (parts === undefined) {
    parts = new Set()
    partsOf.set(root, parts)
  }
  parts.add(new WeakRef(child))
  return child
}

/** Each root's part loggers: pino children copy their level when made, so a new level is set on each. */
const partsOf = new WeakMap<Logger, Set<WeakRef<Logger>>>()

/** A new level for a daemon's logs (a reload): the root and every part logger made from it. */
export function setLogLevel(root: Logger, level: LevelWithSilent): void {
  root.level = level
  const parts = partsOf.get(root)
  if (parts === undefined) return
  for (const ref of parts) {
    const part = ref.deref()
    if (part === undefined) parts.delete(ref)
    else part.level = level
  }
}
