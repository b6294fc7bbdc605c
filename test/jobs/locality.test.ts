import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ImageView } from '../../src/api/types.js'
import { isFinal } from '../../src/jobs/states.js'
import { startDockerd, type TestDockerd } from '../helpers/docker.js'
import { submitJob, waitForJob } from '../helpers/jobs.js'
import {
  cleanupDaemons,
  cliJson,
  type DaemonProcess,
  joinArgs,
  runCli,
  spawnDaemon,
} from '../helpers/processes.js'
import {
  busyboxLayer,
  pushImageOfLayers,
  type Registry,
  randomLayer,
  startRegistry,
} from '../helpers/registry.js'
import { waitFor } from '../helpers/wait.js'

describe('placing a job near the bytes of its image', () => {
  let dockerd: TestDockerd
  let registry: Registry
  let most: DaemonProcess
  let few: DaemonProcess
  let app: string

  beforeAll(async () => {
    ;[dockerd, registry] = await Promise.all([startDockerd(), startRegistry()])
    // app = busybox + two big layers + a small one. `most` pulls an image of the first three layers (nearly all
    // of app's bytes), `few` one of busybox and the small layer. Neither holds app itself.
    const [busybox, big1, big2, small] = await Promise.all([
      busyboxLayer(),
      randomLayer(3_000_000, 'big-1'),
      randomLayer(3_000_000, 'big-2'),
      randomLayer(50_000, 'small'),
    ])
    await pushImageOfLayers(registry.host, 'team/app', 'v1', [busybox, big1, big2, small])
    await pushImageOfLayers(registry.host, 'team/base', 'v1', [busybox, big1, big2])
    await pushImageOfLayers(registry.host, 'team/tiny', 'v1', [busybox, small])
    app = `${registry.host}/team/app:v1`
    // Both use the test's engine, each under its own label.
    const engine = ['--docker-socket', dockerd.socket]
    most = await spawnDaemon({ name: 'most', args: [...engine, '--label', 'host=most'] })
    few = await spawnDaemon({ name: 'few', args: [...engine, '--label', 'host=few', ...joinArgs(most)] })
    for (const [node, image] of [
      [most, 'team/base:v1'],
      [few, 'team/tiny:v1'],
    ] as const) {
      const pulled = await runCli([
        'image',
        'pull',
        `${registry.host}/${image}`,
        '--json',
        '--data-dir',
        node.dataDir,
      ])
      expect(pulled.code, pulled.stderr).toBe(0)
    }
    await waitFor('each node to see both pulls', async () => {
      for (const node of [most, few]) {
        const views = await cliJson<ImageView[]>(node.dataDir, 'image', 'list', '--all')
        if (views.filter((view) => view.source === 'store').length < 2) return false
      }
      return true
    })
  }, 180_000)
  afterAll(async () => {
    await cleanupDaemons()
    await dockerd?.stop()
    await registry?.stop()
  })

  it('runs it on the node holding more of its layer bytes, even when that node is busier', async () => {
    // A CPU-heavy job keeps `most` the busier node: by load alone (or by whole images held: neither has app),
    // the job would go to `few`.
    const busy = await submitJob(most, '--cpu', '1', '--constraint', 'host=most', '--exec', 'sleep', '60')
    await waitForJob(most, busy, 'to run', (view) => view.state === 'running')
    const id = await submitJob(few, '--image', app, '--', '/bin/busybox', 'echo', 'near its bytes')
    const job = await waitForJob(few, id, 'to end', (view) => isFinal(view.state), 90_000)
    expect(job).toMatchObject({ state: 'succeeded', nodeName: 'most' })
    const cancelled = await runCli(['job', 'cancel', busy, '--data-dir', most.dataDir])
    expect(cancelled.code, cancelled.stderr).toBe(0)
  })
})
