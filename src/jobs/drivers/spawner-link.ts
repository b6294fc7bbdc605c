// Starts a spawning helper (Python, else Perl, else Node) and carries requests to it and replies back.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import type { Socket } from 'node:net'
import { delimiter, join } from 'node:path'
import { createInterface } from 'node:readline'
import { LOG_CLOSE_GRACE_MS } from '../constants.js'
import { decodeLineReply, encodeLineRequest } from './spawner-lines.js'
import { nodeHelperSource } from './spawner-node.js'
import { perlHelperSource } from './spawner-perl.js'
import type { HelperReply, HelperRequest } from './spawner-protocol.js'
import { pythonHelperSource } from './spawner-python.js'

/**
 * Which helper runs the children: `python` starts them with `posix_spawn` (no copy of any process); `perl` forks
 * a small process; `node` forks a whole V8 process, the fallback where there is neither.
 */
export type HelperKind = 'python' | 'perl' | 'node'
const HELPER_KINDS: readonly string[] = ['python', 'perl', 'node']

export interface HelperLink {
  readonly process: ChildProcess
  send(request: HelperRequest): void
  /** The daemon's side ends: the helper leaves once its children have ended. */
  leave(): void
}

/** Each executable of that name in the directories, in their order. */
function* executables(name: string, dirs: readonly string[]): Generator<string> {
  for (const dir of dirs) {
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      yield candidate
    } catch {
      // Not in this directory.
    }
  }
}

const pathDirs = (): string[] => (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)

/** Interpreters found, looked up once: a path, or null for none. */
const found = new Map<'python' | 'perl', string | null>()

function findPerl(): string | null {
  if (!found.has('perl')) found.set('perl', executables('perl', pathDirs()).next().value ?? null)
  return found.get('perl')!
}

/**
 * The system's python3 first (a user's PATH may start with a version manager's shim, a shell script in front of
 * the interpreter), then PATH. Looked up once, when the first helper starts.
 */
function findPython(): string | null {
  if (!found.has('python')) found.set('python', usablePython(['/usr/bin', '/usr/local/bin', ...pathDirs()]))
  return found.get('python')!
}

/**
 * The first `python3` in these directories that can start a child as the helper does (`posix_spawn` with
 * `setsid`: Python 3.8 and later, on a C library that has it); null if none can.
 */
export function usablePython(dirs: readonly string[]): string | null {
  for (const python of executables('python3', dirs)) {
    try {
      execFileSync(python, ['-I', '-S', '-c', PYTHON_CHECK], { stdio: 'ignore', timeout: 10_000, env: {} })
      return python
    } catch {
      // Too old, or a C library without what the helper needs: the next one, or another helper.
    }
  }
  return null
}

/** Starts a child as the helper does (in a new session, dup2, default signals): Python 3.8+ on a libc that can. */
const PYTHON_CHECK = [
  'import os, signal, sys',
  "pid = os.posix_spawn(sys.executable, [sys.executable, '-S', '-c', ''], {}, setsid=True,",
  '  setsigdef={signal.SIGPIPE}, file_actions=[(os.POSIX_SPAWN_DUP2, 2, 1)])',
  'sys.exit(os.waitpid(pid, 0)[1] != 0)',
].join('\n')

/**
 * The helper a spawner uses by default: Python when there is one that can, else Perl, else Node.
 * `SHOAL_JOB_SPAWNER=python|perl|node` in the daemon's environment chooses instead: a way round a platform where
 * one misbehaves, and how the benchmarks compare them.
 */
export function defaultHelperKind(): HelperKind {
  const chosen = process.env.SHOAL_JOB_SPAWNER
  if (chosen !== undefined && HELPER_KINDS.includes(chosen)) return chosen as HelperKind
  if (findPython() !== null) return 'python'
  return findPerl() === null ? 'node' : 'perl'
}

export function startHelper(kind: HelperKind, onReply: (reply: HelperReply) => void): HelperLink {
  if (kind === 'node') return startNodeHelper(onReply)
  return kind === 'python' ? startPythonHelper(onReply) : startPerlHelper(onReply)
}

/**
 * The helper's source goes in its environment, not its arguments: renamed `shoal-job-spawner`, a process keeps
 * the length of its original command line, and `ps` would show that name followed by kilobytes of blanks.
 */
const SOURCE_VARIABLE = 'SHOAL_SPAWNER_SOURCE'

/**
 * Python cannot rename itself: it starts as `shoal-job-spawner` (argv0); `-I -S` keep the user's site packages and
 * PYTHON* variables out.
 */
function startPythonHelper(onReply: (reply: HelperReply) => void): HelperLink {
  const boot = `import os; exec(os.environ.pop('${SOURCE_VARIABLE}'))`
  const helper = spawn(findPython() ?? 'python3', ['-I', '-S', '-c', boot], {
    argv0: 'shoal-job-spawner',
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { [SOURCE_VARIABLE]: pythonHelperSource(LOG_CLOSE_GRACE_MS) },
  })
  return lineLink(helper, onReply)
}

function startPerlHelper(onReply: (reply: HelperReply) => void): HelperLink {
  const boot = `eval $ENV{${SOURCE_VARIABLE}}; die $@ if $@`
  const helper = spawn(findPerl() ?? 'perl', ['-e', boot], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { [SOURCE_VARIABLE]: perlHelperSource(LOG_CLOSE_GRACE_MS) },
  })
  return lineLink(helper, onReply)
}

/** Requests down the helper's stdin, replies up its stdout, one per line (spawner-lines.ts). */
function lineLink(helper: ChildProcess, onReply: (reply: HelperReply) => void): HelperLink {
  let open = true
  helper.stdin!.on('error', () => {
    // EPIPE: the helper has gone; its exit fails what was waiting.
    open = false
  })
  createInterface({ input: helper.stdout! }).on('line', (line) => {
    const reply = decodeLineReply(line)
    if (reply !== undefined) onReply(reply)
  })
  helper.once('exit', () => {
    open = false
  })
  // The daemon's own life does not depend on the helper.
  helper.unref()
  ;(helper.stdin as unknown as Socket).unref()
  ;(helper.stdout as unknown as Socket).unref()
  return {
    process: helper,
    send: (request) => {
      if (open) helper.stdin!.write(encodeLineRequest(request))
    },
    leave: () => {
      open = false
      helper.stdin!.end()
    },
  }
}

function startNodeHelper(onReply: (reply: HelperReply) => void): HelperLink {
  const helper = spawn(process.execPath, ['-e', `eval(process.env.${SOURCE_VARIABLE})`], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { [SOURCE_VARIABLE]: nodeHelperSource(LOG_CLOSE_GRACE_MS) },
  })
  helper.on('message', (reply: HelperReply) => onReply(reply))
  helper.unref()
  helper.channel?.unref()
  return {
    process: helper,
    send: (request) => {
      if (helper.connected) helper.send(request)
    },
    leave: () => {
      if (helper.connected) helper.disconnect()
    },
  }
}
