// Real `shoal daemon` processes and CLI runs from the compiled package (dist/), as users run them.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync, openSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { createClient } from '../../cli/client.js'
import type { StatusView } from '../../src/api/types.js'
import { makeTempDir, removeDir } from './temp-dir.js'
import { waitFor } from './wait.js'

export const CLI = resolve(import.meta.dirname, '../../dist/shoal.js')

function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" (npm test does it first)`)
}

export interface CliResult {
  code: number
  stdout: string
  stderr: string
  ms: number
}

/** Runs the shoal CLI to completion. `prefix` runs it through another command (e.g. `ip netns exec`). */
export function runCli(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  assertBuilt()
  const started = performance.now()
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, ...options.env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
        resolvePromise({ code, stdout, stderr, ms: performance.now() - started })
      },
    )
  })
}

/** `shoal <args> --json --data-dir <dir>`, parsed; throws with stderr if the command failed. */
export async function cliJson<T>(dataDir: string, ...args: string[]): Promise<T> {
  const result = await runCli([...args, '--json', '--data-dir', dataDir])
  if (result.code !== 0) throw new Error(`shoal ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
  return JSON.parse(result.stdout) as T
}

export interface DaemonProcess {
  name: string
  dataDir: string
  logFile: string
  child: ChildProcess
  pid: number
  exited: Promise<number | null>
  status: StatusView
}

/** The flags that make a new daemon join the mesh `first` started: its swarm key, and `via`'s address to dial. */
export function joinArgs(first: DaemonProcess, via: DaemonProcess = first): string[] {
  return ['--swarm-key', join(first.dataDir, 'swarm.key'), '--bootstrap', via.status.addresses[0]!]
}

export interface SpawnOptions {
  name: string
  dataDir?: string
  args?: readonly string[]
  /** Run inside this network namespace (`ip netns exec`), listening on all its interfaces. */
  netns?: string
  env?: NodeJS.ProcessEnv
  /** Options for node itself, before the script (e.g. `--cpu-prof`). */
  nodeArgs?: readonly string[]
  /** Leave --drivers to the test (a config file's `drivers` key counts only without the flag). @default true */
  bothDrivers?: boolean
}

const running = new Set<DaemonProcess>()
const tempDirs = new Set<string>()

export async function spawnDaemon(options: SpawnOptions): Promise<DaemonProcess> {
  assertBuilt()
  let dataDir = options.dataDir
  if (dataDir === undefined) {
    dataDir = await makeTempDir(`shoal-${options.name}-`)
    tempDirs.add(dataDir)
  }
  const logFile = join(dataDir, `daemon-${Date.now()}.log`)
  const args = [
    ...(options.nodeArgs ?? []),
    CLI,
    'daemon',
    '--data-dir',
    dataDir,
    '--name',
    options.name,
    '--http-port',
    '0',
    // Tests run commands with the exec driver, which a daemon runs only when asked; a later --drivers wins.
    ...(options.bothDrivers === false ? [] : ['--drivers', 'docker,exec']),
    ...(options.netns === undefined
      ? ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--blob-port', '0']
      : []),
    ...(options.args ?? []),
  ]
  const [command, commandArgs] =
    options.netns === undefined
      ? [process.execPath, args]
      : ['ip', ['netns', 'exec', options.netns, process.execPath, ...args]]
  const log = openSync(logFile, 'a')
  const child = spawn(command, commandArgs, {
    stdio: ['ignore', log, log],
    env: { ...process.env, SHOAL_LOG_LEVEL: 'debug', ...options.env },
  })
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)))
  const proc: DaemonProcess = {
    name: options.name,
    dataDir,
    logFile,
    child,
    pid: child.pid!,
    exited,
    status: undefined!,
  }
  running.add(proc)
  void exited.then(() => running.delete(proc))
  // Asked over the socket from this process: spawning the CLI to poll would load the machine it measures.
  const client = createClient(dataDir)
  const ready = waitFor(
    `daemon ${options.name} to answer on its socket (log: ${logFile})`,
    () => client.get<StatusView>('/v1/status').catch(() => undefined),
    { timeoutMs: 60_000, intervalMs: 100 },
  )
  // A daemon that exits during start-up fails the wait at once, with its log, instead of timing out.
  const died = exited.then(async (code) => {
    const log = await readFile(logFile, 'utf8').catch(() => '')
    throw new Error(`daemon ${options.name} exited with ${code} during start-up:\n${log.slice(-2000)}`)
  })
  proc.status = await Promise.race([ready, died])
  died.catch(() => undefined)
  return proc
}

/** Sends a signal to a daemon we started (by its pid) and waits for it to exit. */
export async function signalDaemon(proc: DaemonProcess, signal: NodeJS.Signals): Promise<number | null> {
  process.kill(proc.pid, signal)
  return proc.exited
}

/** Kills every daemon this file started and removes the data directories it created. */
export async function cleanupDaemons(): Promise<void> {
  await Promise.all([...running].map((proc) => signalDaemon(proc, 'SIGKILL')))
  await Promise.all([...tempDirs].map((dir) => removeDir(dir)))
  tempDirs.clear()
}
