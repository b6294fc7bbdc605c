// Jobs through the real CLI and API of daemon processes: submit, wait for a state, list.
import { createClient } from '../../cli/client.js'
import type { JobView } from '../../src/api/types.js'
import { cliJson, type DaemonProcess, runCli } from './processes.js'
import { waitFor } from './wait.js'

/** `shoal job submit <args>` on a daemon; returns the job id (throws with stderr if it failed). */
export async function submitJob(proc: DaemonProcess, ...args: string[]): Promise<string> {
  const result = await runCli(['job', 'submit', '--data-dir', proc.dataDir, ...args])
  if (result.code !== 0) throw new Error(`job submit exited ${result.code}: ${result.stderr}`)
  return result.stdout.trim()
}

export function showJob(proc: DaemonProcess, id: string): Promise<JobView> {
  return cliJson<JobView>(proc.dataDir, 'job', 'show', id)
}

/** Waits (asking over the socket) until the job's view satisfies `done`, and returns it. */
export function waitForJob(
  proc: DaemonProcess,
  id: string,
  what: string,
  done: (job: JobView) => boolean,
  timeoutMs = 30_000,
): Promise<JobView> {
  const client = createClient(proc.dataDir)
  return waitFor(
    `job ${id} ${what}`,
    async () => {
      const job = await client.get<JobView>(`/v1/jobs/${id}`)
      return done(job) ? job : undefined
    },
    { timeoutMs, intervalMs: 100 },
  )
}

/** Every job (all pages) a daemon lists. */
export async function listJobs(proc: DaemonProcess, query = ''): Promise<JobView[]> {
  const { jobs } = await createClient(proc.dataDir).get<{ jobs: JobView[] }>(`/v1/jobs${query}`)
  return jobs
}

/** True while a process with this pid exists. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
