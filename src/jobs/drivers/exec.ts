// The exec driver: the command as a child process in its own process group and working directory, output to a log file.
import { readFileSync } from 'node:fs'
import { appendFile } from 'node:fs/promises'
import { STOP_GRACE_MS } from '../constants.js'
import { type Execution, type Exit, exitReason, type JobDriver, type StartRequest } from './driver.js'
import { SpawnError, type SpawnedChild, Spawner } from './spawner.js'

export function createExecDriver(): JobDriver {
  const spawner = new Spawner()
  return {
    name: 'exec',
    start: (request) => startProcess(spawner, request),
    close: () => spawner.close(),
  }
}

async function startProcess(spawner: Spawner, request: StartRequest): Promise<Execution> {
  const { spec } = request
  let child: SpawnedChild
  try {
    child = await spawner.spawn({
      file: spec.command[0]!,
      args: spec.command.slice(1),
      cwd: request.workdir,
      env: execEnvironment(request),
      outputPath: request.logPath,
      maxBytes: request.logMaxBytes,
    })
  } catch (err) {
    const code = err instanceof SpawnError ? err.code : undefined
    // No log to write to: the attempt fails with that reason (see the runner), not as the command's fault.
    if (code === 'ELOG') throw err
    const missing = code === 'ENOENT' || code === 'EACCES'
    await appendFile(request.logPath, `shoal: cannot start ${spec.command[0]}: ${(err as Error).message}\n`)
    return {
      pid: null,
      ended: Promise.resolve({
        exitCode: missing ? 127 : 126,
        reason: `${code === 'ENOENT' ? 'command not found' : 'cannot run'}: ${spec.command[0]}`,
      }),
      stop: async () => undefined,
    }
  }
  const { pid } = child
  const ended = child.exited.then(({ exitCode, signal }): Exit => {
    // Whatever the command left running in its group goes with it, as a batch system's cgroup would.
    killGroup(pid, 'SIGKILL')
    return { exitCode, reason: exitReason(exitCode, signal) }
  })
  return {
    pid,
    ended,
    async stop() {
      killGroup(pid, 'SIGTERM')
      const grace = setTimeout(() => killGroup(pid, 'SIGKILL'), STOP_GRACE_MS)
      await ended
      clearTimeout(grace)
    },
  }
}

/** PATH when the daemon has none: the usual system directories. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/**
 * An exec job's environment: PATH (the daemon's, to find commands as its user would), HOME (the job's working
 * dir), the job's own env, then SHOAL_JOB_ID, SHOAL_ATTEMPT and SHOAL_JOB_NAME, and on a node with GPUs the ones
 * it holds (CUDA_VISIBLE_DEVICES, numbered in PCI bus order as nvidia-smi does; empty hides them all). Never the
 * rest of the daemon's environment: it may hold secrets (tokens, cloud credentials) that a member of the mesh
 * must not read.
 */
export function execEnvironment(request: StartRequest): Record<string, string> {
  const gpus: Record<string, string> =
    request.gpus === undefined
      ? {}
      : { CUDA_DEVICE_ORDER: 'PCI_BUS_ID', CUDA_VISIBLE_DEVICES: request.gpus.join(',') }
  return {
    PATH: process.env.PATH || DEFAULT_PATH,
    HOME: request.workdir,
    ...request.spec.env,
    ...request.env,
    ...gpus,
  }
}

/** Signals a process group; one that is already gone is fine. */
export function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw err
  }
}

/**
 * Kills the process group an attempt left behind when the daemon died, if its leader is still that attempt's
 * process (its environment names the job and attempt): a pid from before a reboot may belong to anyone now.
 */
export function stopLeftover(pid: number, jobId: string, attempt: number): boolean {
  let environ: string
  try {
    environ = readFileSync(`/proc/${pid}/environ`, 'latin1')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    // ENOENT: no such process any more; EACCES: another user's, so not an attempt of ours.
    if (code === 'ENOENT' || code === 'EACCES') return false
    throw err
  }
  const vars = new Set(environ.split('\0'))
  if (!vars.has(`SHOAL_JOB_ID=${jobId}`) || !vars.has(`SHOAL_ATTEMPT=${attempt}`)) return false
  return killGroup(pid, 'SIGKILL')
}
