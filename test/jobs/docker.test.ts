import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDockerEngine } from '../../src/docker/index.js'
import type { JobState } from '../../src/jobs/index.js'
import { isFinal } from '../../src/jobs/states.js'
import { startDockerd, type TestDockerd } from '../helpers/docker.js'
import { submitJob, waitForJob } from '../helpers/jobs.js'
import { cleanupDaemons, type DaemonProcess, joinArgs, runCli, spawnDaemon } from '../helpers/processes.js'
import { pushTestImage, type Registry, startRegistry, tarOf } from '../helpers/registry.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'

const IMAGE = 'shoal-test/busybox:1'
const finished = (state: JobState): boolean => isFinal(state)

describe('docker jobs in a real engine', () => {
  let dockerd: TestDockerd
  let registry: Registry
  let scratch: string
  let one: DaemonProcess
  let two: DaemonProcess

  const containersOf = async (id: string): Promise<string> => {
    const ps = await dockerd.docker(['ps', '-a', '-q', '--filter', `label=shoal.job=${id}`])
    return ps.stdout.trim()
  }

  beforeAll(async () => {
    scratch = await makeTempDir('shoal-dockjobs-')
    ;[dockerd, registry] = await Promise.all([startDockerd(), startRegistry()])
    // The test image: the host's static busybox in an otherwise empty root file system, imported locally.
    const rootfs = join(scratch, 'rootfs.tar')
    await writeFile(
      rootfs,
      await tarOf([{ name: 'bin/busybox', content: await readFile('/bin/busybox'), mode: 0o755 }]),
    )
    const imported = await dockerd.docker(['import', rootfs, IMAGE])
    expect(imported.code, imported.stderr).toBe(0)
    const engine = ['--docker-socket', dockerd.socket]
    one = await spawnDaemon({ name: 'one', args: [...engine, '--label', 'host=one'] })
    two = await spawnDaemon({
      name: 'two',
      args: [...engine, '--label', 'host=two', ...joinArgs(one)],
    })
  }, 120_000)
  afterAll(async () => {
    await cleanupDaemons()
    await dockerd?.stop()
    await registry?.stop()
    await removeDir(scratch)
  })

  it('runs a container with no network, logs readable from the other node, then removes it', async () => {
    const script =
      'echo "in a container: $SHOAL_JOB_ID/$SHOAL_ATTEMPT"; /bin/busybox ls /sys/class/net; echo to-stderr >&2'
    const id = await submitJob(
      one,
      '--constraint',
      'host=one',
      '--mem',
      '64M',
      '--image',
      IMAGE,
      '--',
      '/bin/busybox',
      'sh',
      '-c',
      script,
    )
    const job = await waitForJob(two, id, 'to finish', (view) => finished(view.state), 60_000)
    expect(job).toMatchObject({
      state: 'succeeded',
      exitCode: 0,
      nodeName: 'one',
      driver: 'docker',
      image: IMAGE,
    })
    const logs = await runCli(['job', 'logs', id, '--data-dir', two.dataDir])
    expect(logs.code, logs.stderr).toBe(0)
    // Both streams, demuxed into one log (their relative order is the engine's to choose).
    expect(logs.stdout.split('\n').sort()).toEqual(['', `in a container: ${id}/1`, 'lo', 'to-stderr'])
    expect(await containersOf(id)).toBe('')
  })

  it('looks an image up in the engine by its reference, as Docker names it', async () => {
    const engine = createDockerEngine({ socketPath: dockerd.socket })
    expect(await engine.hasImage(IMAGE)).toBe(true)
    expect(await engine.hasImage(`docker.io/${IMAGE}`)).toBe(true)
    expect(await engine.hasImage('shoal-test/never-built:1')).toBe(false)
    await expect(
      createDockerEngine({ socketPath: `${dockerd.socket}.none` }).hasImage(IMAGE),
    ).rejects.toMatchObject({
      code: 'SHOAL_DOCKER_UNAVAILABLE',
    })
  })

  it('reports a container’s exit code and stops a cancelled one', async () => {
    const failing = await submitJob(two, '--image', IMAGE, '--', '/bin/busybox', 'sh', '-c', 'exit 5')
    expect(await waitForJob(one, failing, 'to fail', (view) => finished(view.state), 60_000)).toMatchObject({
      state: 'failed',
      exitCode: 5,
      reason: 'exited with code 5',
    })
    const long = await submitJob(two, '--image', IMAGE, '--', '/bin/busybox', 'sleep', '60')
    await waitForJob(two, long, 'to run', (view) => view.state === 'running', 60_000)
    expect(await containersOf(long)).not.toBe('')
    const cancel = await runCli(['job', 'cancel', long, '--data-dir', one.dataDir])
    expect(cancel.code, cancel.stderr).toBe(0)
    await waitForJob(one, long, 'to be cancelled', (view) => view.state === 'cancelled', 30_000)
    expect(await containersOf(long)).toBe('')
  })

  it('pulls a missing image through the mesh, and fails clearly when it cannot', async () => {
    await pushTestImage(registry.host, 'team/tool', 'v1', [100_000])
    const ref = `${registry.host}/team/tool:v1`
    const id = await submitJob(one, '--image', ref, '--', '/bin/busybox', 'echo', 'pulled and ran')
    expect(await waitForJob(one, id, 'to finish', (view) => finished(view.state), 60_000)).toMatchObject({
      state: 'succeeded',
    })
    expect((await runCli(['job', 'logs', id, '--data-dir', two.dataDir])).stdout).toBe('pulled and ran\n')

    const missing = await submitJob(
      one,
      '--image',
      `${registry.host}/team/absent:v1`,
      '--',
      '/bin/busybox',
      'true',
    )
    const job = await waitForJob(one, missing, 'to fail', (view) => finished(view.state), 60_000)
    expect(job.state).toBe('failed')
    expect(job.reason).toMatch(
      /^SHOAL_IMAGE_NOT_FOUND: image .*team\/absent:v1 is not in the engine and could not be pulled/,
    )
  })
})
