import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { detectGpus, modelOf } from '../../src/membership/gpus.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'

const information = (model: string, minor: number): string =>
  [
    `Model: \t\t ${model}`,
    'IRQ:   \t\t 139',
    'GPU UUID: \t GPU-5e3b0c3a-0000-0000-0000-000000000000',
    'Bus Type: \t PCIe',
    `Device Minor: \t ${minor}`,
    '',
  ].join('\n')

describe('finding GPUs without nvidia-smi', () => {
  let dir: string | undefined
  afterEach(async () => {
    if (dir !== undefined) await removeDir(dir)
    dir = undefined
  })

  it('reads each GPU’s model from the driver’s /proc files, in PCI bus order', async () => {
    dir = await makeTempDir('shoal-gpus-')
    const proc = join(dir, 'proc')
    const dev = join(dir, 'dev')
    // Listed out of order on purpose: index 0 is the lowest bus location.
    for (const [bus, model, minor] of [
      ['0000:81:00.0', 'Tesla T4', 1],
      ['0000:01:00.0', 'NVIDIA A100-SXM4-80GB', 0],
    ] as const) {
      await mkdir(join(proc, bus), { recursive: true })
      await writeFile(join(proc, bus, 'information'), information(model, minor))
    }
    await mkdir(dev)
    for (const name of ['nvidia0', 'nvidia1', 'nvidiactl', 'nvidia-uvm', 'null'])
      await writeFile(join(dev, name), '')
    expect(await detectGpus(proc, dev)).toEqual({ count: 2, models: ['NVIDIA A100-SXM4-80GB', 'Tesla T4'] })
  })

  it('counts device nodes when /proc says nothing, and finds none where neither exists', async () => {
    dir = await makeTempDir('shoal-gpus-')
    const dev = join(dir, 'dev')
    await mkdir(dev)
    for (const name of ['nvidia0', 'nvidia1', 'nvidia2', 'nvidiactl']) await writeFile(join(dev, name), '')
    expect(await detectGpus(join(dir, 'no-proc'), dev)).toEqual({ count: 3, models: [] })
    expect(await detectGpus(join(dir, 'no-proc'), join(dir, 'no-dev'))).toEqual({ count: 0, models: [] })
  })

  it('takes the model from the Model line only', () => {
    expect(modelOf(information('Quadro RTX 6000', 0))).toBe('Quadro RTX 6000')
    expect(modelOf('IRQ: 1\n')).toBeUndefined()
    expect(modelOf('Model: \t GPU\u001b[31m red\n')).toBe('GPU?[31m red')
  })
})
