// Taking over exec instances a previous run of this daemon left running: watched by pid, stopped by process group.
import { readFileSync } from 'node:fs'
import { STOP_GRACE_MS } from '../jobs/constants.js'
import type { Execution, Exit } from '../jobs/drivers/driver.js'
import { killGroup } from '../jobs/drivers/exec.js'

/** How often an adopted process is looked for (it is not our child: no exit event comes). */
const ADOPTED_POLL_MS = 500

/** True if `pid` leads the process group of that instance: its environment names the instance and generation. */
export function isInstanceProcess(pid: number, instance: string, generation: number): boolean {
  let environ: string
  try {
    environ = readFileSync(`/proc/${pid}/environ`, 'latin1')
  } catch {
    return false
  }
  const vars = new Set(environ.split('\0'))
  return vars.has(`SHOAL_INSTANCE=${instance}`) && vars.has(`SHOAL_GENERATION=${generation}`)
}

/** An execution of a process started by an earlier run of the daemon; its exit code cannot be known. */
export function adoptProcess(pid: number, instance: string, generation: number): Execution {
  let timer: NodeJS.Timeout | undefined
  const ended = new Promise<Exit>((resolve) => {
    timer = setInterval(() => {
      if (isInstanceProcess(pid, instance, generation)) return
      clearInterval(timer)
      killGroup(pid, 'SIGKILL')
      resolve({ exitCode: null, reason: 'exited (taken over after a daemon restart: exit code unknown)' })
    }, ADOPTED_POLL_MS)
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

/** Kills what is left of an instance's process group, if it is still that instance's. */
export function stopLeftoverInstance(pid: number, instance: string, generation: number): boolean {
  return isInstanceProcess(pid, instance, generation) && killGroup(pid, 'SIGKILL')
}
