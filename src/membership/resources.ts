// Samples what a node can offer: CPUs, memory, disk free in the data directory, load.
import { readdir, statfs } from 'node:fs/promises'
import os from 'node:os'
import type { Resources } from './node-record.js'

/** GPUs (`/dev/nvidiaN`) do not come and go while the daemon runs: counted once, not every heartbeat. */
let gpuCount: Promise<number> | undefined

function countGpus(): Promise<number> {
  gpuCount ??= readdir('/dev')
    .catch((err: NodeJS.ErrnoException) => {
      // No /dev to look in (or not ours to list): no GPUs to offer.
      if (err.code === 'ENOENT' || err.code === 'EACCES') return [] as string[]
      // Anything else fails this sample only: the next one looks again.
      gpuCount = undefined
      throw err
    })
    .then((devices) => devices.filter((name) => /^nvidia\d+$/.test(name)).length)
  return gpuCount
}

export async function sampleResources(dataDir: string): Promise<Resources> {
  const disk = await statfs(dataDir)
  const [one, five, fifteen] = os.loadavg()
  const gpus = await countGpus()
  return {
    cpus: os.availableParallelism(),
    memoryTotal: os.totalmem(),
    memoryFree: os.freemem(),
    diskTotal: disk.blocks * disk.bsize,
    diskFree: disk.bavail * disk.bsize,
    gpus,
    load: [one ?? 0, five ?? 0, fifteen ?? 0],
  }
}
