// Starts job processes from a small helper process, so the daemon never forks itself (see docs/jobs.md, "Runners").
import { SPAWNER_IDLE_MS } from '../constants.js'
import { logCutNote } from './capped-log.js'
import { defaultHelperKind, type HelperKind, type HelperLink, startHelper } from './spawner-link.js'
import type { HelperReply } from './spawner-protocol.js'

export interface SpawnRequest {
  file: string
  args: readonly string[]
  cwd: string
  env: Record<string, string | undefined>
  /** The log file stdout and stderr are appended to. */
  outputPath: string
  /** The log keeps at most this many bytes of output, then a line saying it was cut. @default no limit */
  maxBytes?: number
}

export interface ChildExit {
  exitCode: number | null
  signal: string | null
}

export interface SpawnedChild {
  pid: number
  exited: Promise<ChildExit>
}

interface Pending {
  spawned: PromiseWithResolvers<SpawnedChild>
  exited: PromiseWithResolvers<ChildExit>
}

/** Error of a spawn that failed (command not found, not executable, a bad working directory). */
export class SpawnError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message)
  }
}

/**
 * Why a helper: a fork blocks the forking thread until the child has exec'd, which on a loaded machine takes
 * milliseconds (the daemon's event loop was blocked 40 % of the time under 10,000 jobs); forking from a worker
 * thread instead lets the daemon run on meanwhile, but every page it then writes before the child's exec is a
 * copy-on-write fault (three times the CPU, measured). A small helper process forks cheaply and blocks nobody.
 */
export class Spawner {
  private helper: HelperLink | undefined
  private readonly pending = new Map<number, Pending>()
  private nextRequest = 0
  private closed = false
  private idleTimer: NodeJS.Timeout | undefined

  /**
   * @param idleMs a helper with no children left for this long leaves (the next job starts another).
   * @param kind the helper's language (see HelperKind); by default the cheapest this machine has, looked up
   *   when the first helper starts, so a daemon that runs no exec job never probes for one.
   */
  constructor(
    private readonly idleMs = SPAWNER_IDLE_MS,
    private readonly kind?: HelperKind,
  ) {}

  /** Starts a child; resolves once it runs (rejects with a SpawnError if it could not start). */
  spawn(request: SpawnRequest): Promise<SpawnedChild> {
    if (this.closed) return Promise.reject(new SpawnError('the spawner is closed', 'ECLOSED'))
    // Specs from the API never hold one (see processText); a record from another member might.
    if (holdsNul(request)) {
      return Promise.reject(
        new SpawnError('a command, argument, variable or path holds a NUL character', 'EINVAL'),
      )
    }
    clearTimeout(this.idleTimer)
    const helper = this.helper ?? this.startHelper()
    const req = this.nextRequest++
    const pending: Pending = { spawned: Promise.withResolvers(), exited: Promise.withResolvers() }
    this.pending.set(req, pending)
    const maxBytes = request.maxBytes ?? Number.MAX_SAFE_INTEGER
    helper.send({ req, ...request, maxBytes, cutNote: logCutNote(maxBytes) })
    return pending.spawned.promise
  }

  /** Ends the helper; children still running keep running (the runner stopped its own first). */
  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.idleTimer)
    const helper = this.helper?.process
    if (helper === undefined || helper.exitCode !== null || helper.signalCode !== null) return
    const exited = new Promise((resolve) => helper.once('exit', resolve))
    this.helper!.leave()
    await exited
  }

  private startHelper(): HelperLink {
    const link = startHelper(this.kind ?? defaultHelperKind(), (reply) => this.onReply(reply))
    const helper = link.process
    this.helper = link
    helper.once('exit', () => this.onHelperExit(link))
    helper.on('error', (err: NodeJS.ErrnoException) => {
      // A helper that could not start emits no 'exit': its spawns fail here. Any other error (a request sent
      // as its channel closed) comes with an exit, which fails the spawns still waiting.
      if (helper.pid === undefined) {
        this.onHelperExit(
          link,
          new SpawnError(`the spawning helper could not start: ${err.message}`, 'ECLOSED'),
        )
      }
    })
    return link
  }

  private onReply(reply: HelperReply): void {
    const pending = this.pending.get(reply.req)
    if (pending === undefined) return
    if (reply.type === 'spawned') {
      pending.spawned.resolve({ pid: reply.pid, exited: pending.exited.promise })
      return
    }
    this.pending.delete(reply.req)
    if (reply.type === 'error') pending.spawned.reject(new SpawnError(reply.message, reply.code))
    else pending.exited.resolve({ exitCode: reply.exitCode, signal: reply.signal })
    if (this.pending.size === 0) {
      this.idleTimer = setTimeout(() => this.retire(), this.idleMs)
      this.idleTimer.unref()
    }
  }

  /** An idle helper leaves, so a node that ran jobs once does not keep a process for them. */
  private retire(): void {
    const helper = this.helper
    if (helper === undefined || this.pending.size > 0) return
    this.helper = undefined
    helper.leave()
  }

  /** A helper that ended (closed, or killed) reports nothing more: its children count as killed; the next spawn starts another. */
  private onHelperExit(
    helper: HelperLink,
    reason = new SpawnError('the spawning helper ended', 'ECLOSED'),
  ): void {
    // A retired helper left with nothing pending: what is pending now is its successor's.
    if (this.helper !== helper && this.helper !== undefined) return
    this.helper = undefined
    for (const pending of this.pending.values()) {
      pending.spawned.reject(reason)
      pending.exited.resolve({ exitCode: null, signal: 'SIGKILL' })
    }
    this.pending.clear()
  }
}

/** True if any text the child would be given holds a NUL (the kernel would cut it there; the Perl helper's frames use NUL). */
function holdsNul({ file, args, cwd, env, outputPath }: SpawnRequest): boolean {
  const texts = [
    file,
    cwd,
    outputPath,
    ...args,
    ...Object.entries(env).flatMap(([name, value]) => [name, value ?? '']),
  ]
  return texts.some((text) => text.includes('\0'))
}
