// Optional system-wide `perf record` around a measured window, for benchmarks run with SHOAL_BENCH_PERF=<file>.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'

/** Node options that let `perf report` name JavaScript functions (a /tmp/perf-<pid>.map per daemon). */
export function perfMapArgs(): string[] {
  return process.env.SHOAL_BENCH_PERF === undefined ? [] : ['--perf-basic-prof-only-functions']
}

/**
 * Starts `perf record` on every CPU if SHOAL_BENCH_PERF names an output file; the returned function stops it
 * and waits until the file is written. Without the variable both are no-ops.
 */
export async function startSystemProfile(): Promise<() => Promise<void>> {
  const output = process.env.SHOAL_BENCH_PERF
  if (output === undefined) return async () => undefined
  const perf: ChildProcess = spawn(
    'perf',
    ['record', '-e', 'cpu-clock', '-F', '999', '-a', '-g', '-o', output],
    {
      stdio: 'ignore',
    },
  )
  // perf needs a moment to open its per-CPU buffers before the window starts.
  await sleep(500)
  return async () => {
    const exited = once(perf, 'exit')
    perf.kill('SIGINT')
    await exited
  }
}
