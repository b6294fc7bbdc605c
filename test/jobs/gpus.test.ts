// GPUs declared with --gpus through real daemons: node views show them, each attempt gets its own devices, a container asks the engine for them.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NodeView } from '../../src/api/types.js'
import { isFinal } from '../../src/jobs/states.js'
import { importBusybox, startDockerd, type TestDockerd } from '../helpers/docker.js'
import { submitJob, waitForJob } from '../helpers/jobs.js'
import {
  cleanupDaemons,
  cliJson,
  type DaemonProcess,
  joinArgs,
  runCli,
  spawnDaemon,
} from '../helpers/processes.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'

const IMAGE = 'shoal-test/busybox:gpu'

// No GPU exists on the machines tests run on: the daemons declare a fake set with --gpus.
describe('GPUs declared with --gpus, on machines without any', () => {
  let dockerd: TestDockerd
  let scratch: string
  let gpu: DaemonProcess
  let docker: DaemonProcess

  beforeAll(async () => {
    scratch = await makeTempDir('shoal-gpus-')
    dockerd = await startDockerd()
    await importBusybox(dockerd, scratch, IMAGE)
    // Exec only on the first (a host engine, if any, plays no part); the second runs containers in the test's.
    gpu = await spawnDaemon({
      name: 'gpu',
      args: ['--gpus', '2:FakeGPU-X', '--label', 'host=gpu', '--drivers', 'exec'],
    })
    docker = await spawnDaemon({
      name: 'docker',
      args: [
        '--gpus',
        '1:FakeGPU-Y',
        '--label',
        'host=docker',
        '--docker-socket',
        dockerd.socket,
        ...joinArgs(gpu),
      ],
    })
  }, 120_000)
  afterAll(async () => {
    await cleanupDaemons()
    await dockerd?.stop()
    await removeDir(scratch)
  })

  it('shows each node’s GPU count and model in node list and node show', async () => {
    const list = await runCli(['node', 'list', '--data-dir', docker.dataDir])
    expect(list.code, list.stderr).toBe(0)
    const [header, ...rows] = list.stdout.trim().split('\n')
    expect(header).toMatch(/\bGPUS\b/)
    expect(rows.find((row) => row.startsWith('gpu '))).toContain('2× FakeGPU-X')
    expect(rows.find((row) => row.startsWith('docker '))).toContain('1× FakeGPU-Y')
    const shown = await cliJson<NodeView>(docker.dataDir, 'node', 'show', 'gpu')
    expect(shown.resources).toMatchObject({ gpus: 2, gpuModels: ['FakeGPU-X', 'FakeGPU-X'] })
    const text = await runCli(['node', 'show', 'gpu', '--data-dir', docker.dataDir])
    expect(text.stdout).toMatch(/^gpus\s+2× FakeGPU-X$/m)
  })

  it('gives two processes different GPUs; a third waits for one to free and gets that one', async () => {
    // Each job prints its devices, then runs until the test writes its release file.
    const script = `echo "gpus=$CUDA_VISIBLE_DEVICES"; while [ ! -e ${scratch}/release-$SHOAL_JOB_NAME ]; do sleep 0.1; done`
    const submit = (name: string): Promise<string> =>
      submitJob(gpu, '--name', name, '--gpu', '1', '--constraint', 'host=gpu', '--exec', 'sh', '-c', script)
    const devicesOf = async (id: string): Promise<string> => {
      const logs = await runCli(['job', 'logs', id, '--data-dir', docker.dataDir])
      return /^gpus=(.*)$/m.exec(logs.stdout)?.[1] ?? `(no line in ${JSON.stringify(logs.stdout)})`
    }
    const first = await submit('one')
    const second = await submit('two')
    for (const id of [first, second]) await waitForJob(gpu, id, 'to run', (view) => view.state === 'running')
    // Both hold one GPU each; the log line is written before either can end.
    const [one, two] = [await devicesOf(first), await devicesOf(second)]
    expect([one, two].sort()).toEqual(['0', '1'])
    const third = await submit('three')
    await writeFile(join(scratch, 'release-one'), '')
    const ended = await waitForJob(gpu, first, 'to end', (view) => isFinal(view.state))
    expect(ended.state).toBe('succeeded')
    const started = await waitForJob(
      gpu,
      third,
      'to run',
      (view) => view.state === 'running' || isFinal(view.state),
    )
    expect(started).toMatchObject({ state: 'running', nodeName: 'gpu' })
    // It started only once the first ended (both GPUs were held until then), on the device the first gave back.
    expect(Date.parse(started.startedAt!)).toBeGreaterThanOrEqual(Date.parse(ended.finishedAt!))
    expect(await devicesOf(third)).toBe(one)
    for (const name of ['two', 'three']) await writeFile(join(scratch, `release-${name}`), '')
    for (const id of [second, third]) {
      expect((await waitForJob(gpu, id, 'to end', (view) => isFinal(view.state))).state).toBe('succeeded')
    }
  })

  it('asks the engine for the container’s GPU, and says clearly that this engine has no GPU runtime', async () => {
    const containersOf = async (id: string): Promise<string> =>
      (await dockerd.docker(['ps', '-a', '-q', '--filter', `label=shoal.job=${id}`])).stdout.trim()
    const asking = await submitJob(
      docker,
      '--gpu',
      '1',
      '--constraint',
      'host=docker',
      '--image',
      IMAGE,
      '--',
      '/bin/busybox',
      'true',
    )
    const failed = await waitForJob(docker, asking, 'to end', (view) => isFinal(view.state), 60_000)
    // The engine refused the start because of the device request the create carried (no nvidia runtime here).
    expect(failed).toMatchObject({ state: 'failed', nodeName: 'docker' })
    expect(failed.reason).toMatch(/^SHOAL_GPU_RUNTIME_MISSING: /)
    expect(await containersOf(asking)).toBe('')
    // A container asking for none runs, told to see no GPU of the node's.
    const plain = await submitJob(
      docker,
      '--constraint',
      'host=docker',
      '--image',
      IMAGE,
      '--',
      '/bin/busybox',
      'sh',
      '-c',
      'echo "visible=$NVIDIA_VISIBLE_DEVICES"',
    )
    const ran = await waitForJob(docker, plain, 'to end', (view) => isFinal(view.state), 60_000)
    expect(ran.state).toBe('succeeded')
    const logs = await runCli(['job', 'logs', plain, '--data-dir', gpu.dataDir])
    expect(logs.stdout).toBe('visible=void\n')
  })
})
