// Samples what a node can offer: CPUs, memory, disk free in the data directory, load.
import { readdir, statfs } from 'node:fs/promises'
import os from 'node:os'
import type { Resources } from './node-record.js'

export async function sampleResources(dataDir: string): Promise<Resources> {
  const disk = await statfs(dataDir)
  const [one, five, fifteen] = os.loadavg()
  const devices = await readdir('/dev').catch(() => [] as string[])
  return {
    cpus: os.availableParallelism(),
    memoryTotal: os.totalmem(),
    memoryFree: os.freemem(),
    diskTotal: disk.blocks * disk.bsize,
    diskFree: disk.bavail * disk.bsize,
    gpus: devices.filter((name) => /^nvidia\d+$/.test(name)).length,
    load: [one ?? 0, five ?? 0, fifteen ?? 0],
  }
}
