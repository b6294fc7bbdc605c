// The GPUs a node offers: NVIDIA devices the kernel driver lists (no nvidia-smi needed), or what `--gpus` declares.
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** A node's GPUs: how many, and each one's model where known, in device index order. */
export interface GpuSet {
  count: number
  /** Models by device index (PCI bus order, as nvidia-smi numbers them); shorter than `count` where unknown. */
  models: string[]
}

/** What `--gpus N[:MODEL]` declares (for nodes whose system does not say, and tests). */
export interface DeclaredGpus {
  count: number
  model?: string
}

/** Most GPUs a node may declare (a job may ask for at most 64 too). */
export const MAX_GPUS = 64
/** Longest model name kept. */
export const MAX_GPU_MODEL_LENGTH = 128

const PROC_GPUS = '/proc/driver/nvidia/gpus'

/**
 * The NVIDIA driver's view: one directory per GPU under /proc/driver/nvidia/gpus, named by PCI bus location
 * (sorted, that is the index order CUDA_DEVICE_ORDER=PCI_BUS_ID and nvidia-smi use), whose `information` file
 * says `Model: …`; and the device nodes /dev/nvidiaN. The count is the larger of the two (a container may see
 * the device nodes without /proc/driver); models come from /proc only.
 */
export async function detectGpus(procDir = PROC_GPUS, devDir = '/dev'): Promise<GpuSet> {
  const [buses, devices] = await Promise.all([listOrNone(procDir), listOrNone(devDir)])
  const models: string[] = []
  for (const bus of buses.sort()) {
    const text = await readFile(join(procDir, bus, 'information'), 'utf8').catch(
      (err: NodeJS.ErrnoException) => {
        // Gone between the listing and the read (a GPU unbound), or not ours to read: no model for it.
        if (err.code === 'ENOENT' || err.code === 'EACCES') return ''
        throw err
      },
    )
    models.push(modelOf(text) ?? 'NVIDIA GPU')
  }
  const nodes = devices.filter((name) => /^nvidia\d+$/.test(name)).length
  return { count: Math.min(MAX_GPUS, Math.max(models.length, nodes)), models: models.slice(0, MAX_GPUS) }
}

/** The `Model:` line of a GPU's information file (printable ASCII only: it is shown in terminals). */
export function modelOf(information: string): string | undefined {
  const match = /^Model:\s*(.+?)\s*$/m.exec(information)
  return match === null ? undefined : match[1]!.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_GPU_MODEL_LENGTH)
}

/** What `--gpus` declares, as the node offers it. */
export function declaredGpuSet(declared: DeclaredGpus): GpuSet {
  return {
    count: declared.count,
    models: declared.model === undefined ? [] : Array.from({ length: declared.count }, () => declared.model!),
  }
}

async function listOrNone(dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (err) {
    // No NVIDIA driver loaded (no /proc/driver/nvidia), or not ours to list: nothing there to offer.
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR') return []
    throw err
  }
}
