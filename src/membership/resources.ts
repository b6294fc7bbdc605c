// Samples what a node can offer: CPUs, memory, disk free in the data directory, load, GPUs.
import { statfs } from 'node:fs/promises'
import os from 'node:os'
import { type DeclaredGpus, declaredGpuSet, detectGpus, type GpuSet } from './gpus.js'
import type { Resources } from './node-record.js'

/** GPUs do not come and go while the daemon runs: looked for once, not every heartbeat. */
let detected: Promise<GpuSet> | undefined

function systemGpus(): Promise<GpuSet> {
  detected ??= detectGpus().catch((err: Error) => {
    // Fails this sample only: the next one looks again.
    detected = undefined
    throw err
  })
  return detected
}

/** `declared` (`--gpus`) replaces what the system says about GPUs. */
export async function sampleResources(dataDir: string, declared?: DeclaredGpus): Promise<Resources> {
  const disk = await statfs(dataDir)
  const [one, five, fifteen] = os.loadavg()
  const gpus = declared === undefined ? await systemGpus() : declaredGpuSet(declared)
  return {
    cpus: os.availableParallelism(),
    memoryTotal: os.totalmem(),
    memoryFree: os.freemem(),
    diskTotal: disk.blocks * disk.bsize,
    diskFree: disk.bavail * disk.bsize,
    gpus: gpus.count,
    ...(gpus.models.length > 0 ? { gpuModels: gpus.models } : {}),
    load: [one ?? 0, five ?? 0, fifteen ?? 0],
  }
}
