// Starts job processes from a small helper process, so the daemon never forks itself (see docs/jobs.md, "Runners").
import { type ChildProcess, spawn } from 'node:child_process'
import { LOG_CLOSE_GRACE_MS, SPAWNER_IDLE_MS } from '../constants.js'
import { logCutNote } from './capped-log.js'

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

type HelperReply =
  | { req: number; type: 'spawned'; pid: number }
  | { req: number; type: 'error'; code: string | undefined; message: string }
  | { req: number; type: 'exit'; exitCode: number | null; signal: string | null }

/**
 * The helper: spawns each child in its own process group (detached) and reports its pid, then its exit. Its
 * stdout and stderr come through pipes into the log file, up to `maxBytes`: past that the log says it was cut
 * and the rest is read and dropped, so a chatty job neither fills the disk nor blocks on a full pipe. When the
 * child exits, what is left of its group is killed (as the exec driver does anyway) so the pipes close; the
 * exit is reported once the log has every byte (or after LOG_CLOSE_GRACE_MS if a process outside the group still
 * holds a pipe). When the daemon goes (its channel closes) the helper stays until its children have ended, so
 * their output keeps reaching their logs; a restarted daemon stops the ones that moved.
 * Plain CommonJS run with `node -e`, so the same code runs from the sources (tests) and from the bundle; it
 * names itself `shoal-job-spawner` in `ps` rather than showing this source.
 */
const HELPER_SOURCE = `
process.title = 'shoal-job-spawner'
const { spawn } = require('node:child_process')
const { openSync, closeSync, createWriteStream } = require('node:fs')
const LOG_CLOSE_GRACE_MS = ${LOG_CLOSE_GRACE_MS}
let children = 0
let leaving = false
const send = (message) => {
  if (process.connected) process.send(message)
}
const ended = () => {
  children--
  if (leaving && children === 0) process.exit(0)
}
process.on('disconnect', () => {
  leaving = true
  if (children === 0) process.exit(0)
})
process.on('message', (m) => {
  let fd
  let child
  try {
    fd = openSync(m.outputPath, 'a')
  } catch (err) {
    send({ req: m.req, type: 'error', code: 'ELOG', message: 'cannot open the log file: ' + err.message })
    return
  }
  try {
    child = spawn(m.file, m.args, { cwd: m.cwd, env: m.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  } catch (err) {
    closeSync(fd)
    send({ req: m.req, type: 'error', code: err.code, message: err.message })
    return
  }
  children++
  const log = createWriteStream('', { fd })
  let written = 0
  let cut = false
  let logFailed = false
  // A log that cannot be written (a full disk) costs the job its log, not its run: its output is dropped.
  log.on('error', () => {
    logFailed = true
    cut = true
    child.stdout.resume()
    child.stderr.resume()
  })
  const take = (source) => (chunk) => {
    if (cut) return
    const room = m.maxBytes - written
    if (chunk.length > room) {
      cut = true
      if (room > 0) log.write(chunk.subarray(0, room))
      log.write(m.cutNote)
      // Dropped from here on: a paused pipe would block the job.
      child.stdout.resume()
      child.stderr.resume()
      return
    }
    written += chunk.length
    if (!log.write(chunk)) {
      source.pause()
      log.once('drain', () => source.resume())
    }
  }
  child.stdout.on('data', take(child.stdout))
  child.stderr.on('data', take(child.stderr))
  child.once('spawn', () => send({ req: m.req, type: 'spawned', pid: child.pid }))
  child.once('error', (err) => {
    if (child.pid !== undefined) return
    log.end()
    ended()
    send({ req: m.req, type: 'error', code: err.code, message: err.message })
  })
  child.once('exit', (exitCode, signal) => {
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch (err) {
      // ESRCH: nothing of its group is left.
      if (err.code !== 'ESRCH') throw err
    }
    const grace = setTimeout(() => {
      child.stdout.destroy()
      child.stderr.destroy()
      finish()
    }, LOG_CLOSE_GRACE_MS)
    let finished = false
    const finish = () => {
      if (finished) return
      finished = true
      clearTimeout(grace)
      const report = () => {
        send({ req: m.req, type: 'exit', exitCode, signal })
        ended()
      }
      if (logFailed) report()
      else log.end(report)
    }
    child.once('close', finish)
  })
})
`

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
  private helper: ChildProcess | undefined
  private readonly pending = new Map<number, Pending>()
  private nextRequest = 0
  private closed = false
  private idleTimer: NodeJS.Timeout | undefined

  /** @param idleMs a helper with no children left for this long leaves (the next job starts another). */
  constructor(private readonly idleMs = SPAWNER_IDLE_MS) {}

  /** Starts a child; resolves once it runs (rejects with a SpawnError if it could not start). */
  spawn(request: SpawnRequest): Promise<SpawnedChild> {
    if (this.closed) return Promise.reject(new SpawnError('the spawner is closed', 'ECLOSED'))
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
    const helper = this.helper
    if (helper === undefined || helper.exitCode !== null || helper.signalCode !== null) return
    const exited = new Promise((resolve) => helper.once('exit', resolve))
    helper.disconnect()
    await exited
  }

  private startHelper(): ChildProcess {
    const helper = spawn(process.execPath, ['-e', HELPER_SOURCE], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: {},
    })
    this.helper = helper
    helper.on('message', (reply: HelperReply) => this.onReply(reply))
    helper.once('exit', () => this.onHelperExit(helper))
    helper.on('error', (err: NodeJS.ErrnoException) => {
      // A helper that could not start emits no 'exit': its spawns fail here. Any other error (a request sent
      // as its channel closed) comes with an exit, which fails the spawns still waiting.
      if (helper.pid === undefined) {
        this.onHelperExit(
          helper,
          new SpawnError(`the spawning helper could not start: ${err.message}`, 'ECLOSED'),
        )
      }
    })
    // The daemon's own life does not depend on the helper.
    helper.unref()
    helper.channel?.unref()
    return helper
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
    if (helper.connected) helper.disconnect()
  }

  /** A helper that ended (closed, or killed) reports nothing more: its children count as killed; the next spawn starts another. */
  private onHelperExit(
    helper: ChildProcess,
    reason = new SpawnError('the spawning helper ended', 'ECLOSED'),
  ): void {
    if (this.helper === helper) this.helper = undefined
    for (const pending of this.pending.values()) {
      pending.spawned.reject(reason)
      pending.exited.resolve({ exitCode: null, signal: 'SIGKILL' })
    }
    this.pending.clear()
  }
}
