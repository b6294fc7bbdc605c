// The exec driver: the command as a child process in its own process group and working directory, output to a log file.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { STOP_GRACE_MS } from '../constants.js'
import { type Execution, type Exit, exitReason, type JobDriver, type StartRequest } from './driver.js'

export function createExecDriver(): JobDriver {
  return { name: 'exec', start: startProcess }
}

async function startProcess(request: StartRequest): Promise<Execution> {
  const { spec } = request
  const log = await open(request.logPath, 'a')
  try {
    const child = spawn(spec.command[0]!, spec.command.slice(1), {
      cwd: request.workdir,
      env: { ...process.env, ...spec.env, ...request.env },
      stdio: ['ignore', log.fd, log.fd],
      // Its own process group: a stop reaches whatever the command started too.
      detached: true,
    })
    const spawned = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined))
      child.once('error', (err) => resolve(err))
    })
    if (spawned !== undefined) {
      const code = (spawned as NodeJS.ErrnoException).code
      const missing = code === 'ENOENT' || code === 'EACCES'
      await log.write(`shoal: cannot start ${spec.command[0]}: ${spawned.message}\n`)
      return {
        pid: null,
        ended: Promise.resolve({
          exitCode: missing ? 127 : 126,
          reason: `${code === 'ENOENT' ? 'command not found' : 'cannot run'}: ${spec.command[0]}`,
        }),
        stop: async () => undefined,
      }
    }
    const pid = child.pid!
    const ended = new Promise<Exit>((resolve) => {
      child.once('exit', (exitCode, signal) => {
        // Whatever the command left running in its group goes with it, as a batch system's cgroup would.
        killGroup(pid, 'SIGKILL')
        resolve({ exitCode, reason: exitReason(exitCode, signal) })
      })
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
  } finally {
    await log.close()
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
  } catch {
    return false
  }
  const vars = new Set(environ.split('\0'))
  if (!vars.has(`SHOAL_JOB_ID=${jobId}`) || !vars.has(`SHOAL_ATTEMPT=${attempt}`)) return false
  return killGroup(pid, 'SIGKILL')
}
