// Idle cost of a daemon in a two-node mesh: resident memory and CPU, against a bare node process in the same run.
import { spawn } from 'node:child_process'
import { cleanupDaemons } from '../test/helpers/processes.js'
import { sleep } from '../test/helpers/wait.js'
import { cpuSeconds, rssMiB, spawnCluster } from './processes.js'

export interface IdleResult {
  sampleSeconds: number
  rssMiB: number
  cpuPercent: number
  /** A `node` process that only keeps a 1 s timer, in the same run. */
  bareNodeRssMiB: number
  bareNodeCpuPercent: number
}

export async function idle(sampleSeconds = 60): Promise<IdleResult> {
  const [daemon] = await spawnCluster(2, 'idle')
  const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  try {
    // Let start-up work (first syncs, JIT warm-up, GC of start-up garbage) settle.
    await sleep(15_000)
    const [cpu0, bare0] = await Promise.all([cpuSeconds(daemon!.pid), cpuSeconds(bare.pid!)])
    await sleep(sampleSeconds * 1_000)
    const [cpu1, bare1] = await Promise.all([cpuSeconds(daemon!.pid), cpuSeconds(bare.pid!)])
    const pct = (used: number): number => Math.round((used / sampleSeconds) * 100 * 100) / 100
    return {
      sampleSeconds,
      rssMiB: await rssMiB(daemon!.pid),
      cpuPercent: pct(cpu1 - cpu0),
      bareNodeRssMiB: await rssMiB(bare.pid!),
      bareNodeCpuPercent: pct(bare1 - bare0),
    }
  } finally {
    bare.kill('SIGKILL')
    await cleanupDaemons()
  }
}
