// Runs one git command the safe way: minimal environment, no prompts, no hooks, no ext::, a timeout, credentials only through a helper.
import { spawn } from 'node:child_process'
import { homedir } from 'node:os'
import { DEFAULT_GIT_TIMEOUT_MS, MAX_GIT_STDERR_BYTES, MAX_GIT_STDOUT_BYTES } from './constants.js'
import type { GitCredential } from './credentials.js'
import { gitSourceError } from './failure.js'
import { httpOrigin, redactUrl, urlPassword } from './git-url.js'
import type { GitOptions } from './types.js'

/** Variables of the daemon's environment a git child may need: its proxies and the SSH agent holding the node's keys. */
const PASSED_ENV = [
  'SSH_AUTH_SOCK',
  'http_proxy',
  'https_proxy',
  'HTTPS_PROXY',
  'all_proxy',
  'ALL_PROXY',
  'no_proxy',
  'NO_PROXY',
]

/**
 * A credential helper that answers `get` from variables of the git child's own environment, and only for the
 * protocol and host it was set up for (a redirect to another host gets nothing). The command line names the
 * variables, never their values; `store` and `erase` are ignored so nothing is written anywhere.
 */
const CREDENTIAL_HELPER = [
  '!f() {',
  'test "$1" = get || exit 0;',
  'p=; h=;',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
  'while IFS= read -r line; do case "$line" in protocol=*) p="${line#protocol=}";; host=*) h="${line#host=}";; esac; done;',
  'test "$p" = "$SHOAL_GIT_CREDENTIAL_PROTOCOL" && test "$h" = "$SHOAL_GIT_CREDENTIAL_HOST" || exit 0;',
  'printf "username=%s\\npassword=%s\\n" "$SHOAL_GIT_CREDENTIAL_USERNAME" "$SHOAL_GIT_CREDENTIAL_PASSWORD";',
  '}; f',
].join(' ')

/**
 * Configuration that wins over the node's git config for every command: ext:: never runs a command, no hook or
 * fsmonitor of a repository runs, no stored credential or askpass program is used, submodules stay untouched,
 * and automatic gc runs inside the command (and its timeout) instead of detaching.
 */
const SAFE_CONFIG = [
  'protocol.ext.allow=never',
  'core.hooksPath=/dev/null',
  'core.fsmonitor=false',
  'core.askPass=',
  'credential.helper=',
  'submodule.recurse=false',
  'gc.autoDetach=false',
]

export interface GitRun {
  /** The remote this command talks to, if any: picks credentials, and is what messages name. */
  remote?: string
  /** Run as `git --git-dir <dir>/.git --work-tree <dir>`: never a repository found by walking up from a directory. */
  repoDir?: string
}

export interface GitResult {
  exitCode: number
  stdout: string
  /** With every secret of the call replaced by `***`. */
  stderr: string
  /** Whether credentials were offered (an auth failure then means they were refused). */
  hadCredentials: boolean
}

/**
 * Runs `git <args>`; a non-zero exit is returned, not thrown (callers know what it means). Throws a
 * GitSourceError when git cannot start, runs past its timeout or is aborted; the whole process group (remote
 * helpers, ssh) is killed then.
 */
export async function runGit(args: string[], run: GitRun, options: GitOptions): Promise<GitResult> {
  const shownRemote = run.remote === undefined ? 'the repository' : redactUrl(run.remote)
  if (options.signal?.aborted) throw gitSourceError('aborted', `git stopped before it ran (${shownRemote})`)
  const credential = run.remote === undefined ? undefined : options.credentials?.forUrl(run.remote)
  const secrets = [
    credential?.password,
    run.remote === undefined ? undefined : urlPassword(run.remote),
  ].filter((secret): secret is string => secret !== undefined && secret !== '')
  const redact = (text: string) => redactSecrets(redactUrl(text), secrets)
  const config = [...SAFE_CONFIG]
  if (credential !== undefined) config.push(`credential.helper=${CREDENTIAL_HELPER}`)
  const repoArgs =
    run.repoDir === undefined ? [] : ['--git-dir', `${run.repoDir}/.git`, '--work-tree', run.repoDir]
  const argv = [...config.flatMap((entry) => ['-c', entry]), ...repoArgs, ...args]
  const timeoutMs = options.timeoutMs ?? DEFAULT_GIT_TIMEOUT_MS
  const started = performance.now()

  const child = spawn('git', argv, {
    env: childEnv(run.remote, credential),
    // Not the daemon's working directory: a repository around it would lend its config (url.*.insteadOf) to git.
    cwd: run.repoDir ?? '/',
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that a timeout or abort also ends git-remote-http and ssh under it.
    detached: true,
  })
  const stdout = collect(child.stdout, MAX_GIT_STDOUT_BYTES)
  const stderr = collect(child.stderr, MAX_GIT_STDERR_BYTES)
  let stoppedBy: 'timeout' | 'aborted' | undefined
  const stop = (why: 'timeout' | 'aborted') => {
    stoppedBy ??= why
    killGroup(child.pid)
  }
  const timer = setTimeout(() => stop('timeout'), timeoutMs)
  const onAbort = () => stop('aborted')
  options.signal?.addEventListener('abort', onAbort, { once: true })
  const exit = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }))
    child.once('close', (code) => resolve({ code }))
  }).finally(() => {
    clearTimeout(timer)
    options.signal?.removeEventListener('abort', onAbort)
  })

  const ms = Math.round(performance.now() - started)
  const shownArgs = args.map(redact)
  options.log?.debug(
    { git: shownArgs, exitCode: exit.code, ms, credentials: credential !== undefined },
    'git command',
  )
  if (exit.error !== undefined) {
    // Node says ENOENT both for a missing git and for a missing working directory.
    const missing =
      run.repoDir === undefined ? 'is git installed?' : `is git installed, and does ${run.repoDir} exist?`
    const reason = (exit.error as NodeJS.ErrnoException).code === 'ENOENT' ? missing : exit.error.message
    throw gitSourceError('failed', `git could not start for ${shownRemote} (${reason})`, reason)
  }
  if (stoppedBy === 'timeout') {
    throw gitSourceError('timeout', `git timed out after ${Math.round(timeoutMs / 1000)} s on ${shownRemote}`)
  }
  if (stoppedBy === 'aborted') throw gitSourceError('aborted', `git stopped (aborted) on ${shownRemote}`)
  const result = {
    exitCode: exit.code ?? -1,
    stdout: stdout(),
    stderr: redact(stderr()),
    hadCredentials: credential !== undefined,
  }
  if (result.exitCode !== 0) {
    options.log?.debug({ git: shownArgs, stderr: result.stderr.slice(-2000) }, 'git failed')
  }
  return result
}

/** PATH and HOME (the node's git config and SSH keys), C messages (they are parsed), no prompt, nothing GIT_* inherited. */
function childEnv(remote: string | undefined, credential: GitCredential | undefined): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env.HOME ?? homedir(),
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    // A missing or refused key fails at once instead of asking for a passphrase or a host key answer.
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
  }
  for (const name of PASSED_ENV) {
    const value = process.env[name]
    if (value !== undefined) env[name] = value
  }
  const origin = remote === undefined ? undefined : httpOrigin(remote)
  if (credential !== undefined && origin !== undefined) {
    env.SHOAL_GIT_CREDENTIAL_PROTOCOL = origin.protocol
    env.SHOAL_GIT_CREDENTIAL_HOST = origin.host
    env.SHOAL_GIT_CREDENTIAL_USERNAME = credential.username
    env.SHOAL_GIT_CREDENTIAL_PASSWORD = credential.password
  }
  return env
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return
  try {
    process.kill(-pid, 'SIGKILL')
  } catch (err) {
    // ESRCH: the group already exited between the timer firing and this call; nothing is left to stop.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
  }
}

/** Keeps the last `max` bytes of a stream (git says why it failed at the end). */
function collect(stream: NodeJS.ReadableStream, max: number): () => string {
  const chunks: Buffer[] = []
  let size = 0
  stream.on('data', (chunk: Buffer) => {
    chunks.push(chunk)
    size += chunk.length
    while (size > max && chunks.length > 1) size -= chunks.shift()!.length
  })
  return () => Buffer.concat(chunks).toString('utf8')
}

function redactSecrets(text: string, secrets: string[]): string {
  let out = text
  for (const secret of secrets) {
    out = out.replaceAll(secret, '***').replaceAll(encodeURIComponent(secret), '***')
  }
  return out
}
