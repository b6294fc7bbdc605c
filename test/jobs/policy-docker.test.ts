// Node policy and limits with a real engine: host networking only where allowed, only the job's own env, capped logs.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NodeView } from '../../src/api/types.js'
import { logCutNote } from '../../src/jobs/drivers/capped-log.js'
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

const IMAGE = 'shoal-test/busybox:policy'
const SECRET = 'docker-daemon-secret-4711'
const LOG_MAX = 64 * 1024

describe('node policy with docker jobs', () => {
  let dockerd: TestDockerd
  let scratch: string
  let open: DaemonProcess
  let closed: DaemonProcess

  beforeAll(async () => {
    scratch = await makeTempDir('shoal-policy-docker-')
    dockerd = await startDockerd()
    await importBusybox(dockerd, scratch, IMAGE)
    // Both run containers only (a later --drivers wins over the helper's docker,exec).
    const common = [
      '--docker-socket',
      dockerd.socket,
      '--drivers',
      'docker',
      '--job-log-max',
      String(LOG_MAX),
    ]
    open = await spawnDaemon({
      name: 'open',
      args: [...common, '--label', 'host=open', '--allow-host-network'],
    })
    closed = await spawnDaemon({
      name: 'closed',
      args: [...common, '--label', 'host=closed', ...joinArgs(open)],
      env: { SHOAL_POLICY_SECRET: SECRET },
    })
  }, 120_000)
  afterAll(async () => {
    await cleanupDaemons()
    await dockerd?.stop()
    await removeDir(scratch)
  })

  it('advertises the policy in node records', async () => {
    const nodes = await cliJson<NodeView[]>(closed.dataDir, 'node', 'list')
    const byName = Object.fromEntries(nodes.map((node) => [node.name, node]))
    expect(byName.open).toMatchObject({ drivers: { docker: true, exec: false }, hostNetwork: true })
    expect(byName.closed).toMatchObject({ drivers: { docker: true, exec: false }, hostNetwork: false })
  })

  it('places a host-network container only on a node that allows it, and says why when none does', async () => {
    const listNets = ['/bin/busybox', 'ls', '/sys/class/net']
    const id = await submitJob(closed, '--network', 'host', '--image', IMAGE, '--', ...listNets)
    const ran = await waitForJob(closed, id, 'to finish', (view) => isFinal(view.state), 60_000)
    expect(ran).toMatchObject({ state: 'succeeded', nodeName: 'open' })
    const logs = await runCli(['job', 'logs', id, '--data-dir', closed.dataDir])
    // The host's interfaces, not just a private namespace's loopback.
    expect(logs.stdout.trim().split('\n').length).toBeGreaterThan(1)

    const refused = await submitJob(
      open,
      '--network',
      'host',
      '--constraint',
      'host=closed',
      '--image',
      IMAGE,
      '--',
      ...listNets,
    )
    const waiting = await waitForJob(open, refused, 'to say why it waits', (view) => view.reason !== null)
    expect(waiting.state).toBe('pending')
    expect(waiting.reason).toMatch(/^no live node with host=closed allows network "host"/)
    expect(waiting.reason).toContain('--allow-host-network')
    // The isolated modes run anywhere.
    const bridged = await submitJob(
      open,
      '--network',
      'bridge',
      '--constraint',
      'host=closed',
      '--image',
      IMAGE,
      '--',
      '/bin/busybox',
      'true',
    )
    expect(await waitForJob(open, bridged, 'to finish', (view) => isFinal(view.state), 60_000)).toMatchObject(
      {
        state: 'succeeded',
        nodeName: 'closed',
      },
    )
  })

  it('gives a container only its own env, never its daemon’s', async () => {
    const id = await submitJob(
      open,
      '--constraint',
      'host=closed',
      '--env',
      'OWN=mine',
      '--image',
      IMAGE,
      '--',
      '/bin/busybox',
      'env',
    )
    expect(await waitForJob(open, id, 'to finish', (view) => isFinal(view.state), 60_000)).toMatchObject({
      state: 'succeeded',
    })
    const logs = await runCli(['job', 'logs', id, '--data-dir', open.dataDir])
    expect(logs.stdout).toContain('OWN=mine')
    expect(logs.stdout).toContain(`SHOAL_JOB_ID=${id}`)
    expect(logs.stdout).not.toContain(SECRET)
    expect(logs.stdout).not.toContain('SHOAL_POLICY_SECRET')
  })

  it('keeps the first bytes of a chatty container’s log and notes the cut', async () => {
    const script = '/bin/busybox yes out | /bin/busybox head -c 3000000; echo after-the-cut'
    const id = await submitJob(open, '--image', IMAGE, '--', '/bin/busybox', 'sh', '-c', script)
    const ended = await waitForJob(open, id, 'to finish', (view) => isFinal(view.state), 60_000)
    expect(ended).toMatchObject({ state: 'succeeded', exitCode: 0 })
    const ranOn = ended.nodeName === 'open' ? open : closed
    const log = await readFile(join(ranOn.dataDir, 'jobs', id, '1.log'))
    const note = logCutNote(LOG_MAX)
    expect(log.length).toBe(LOG_MAX + Buffer.byteLength(note))
    expect(log.subarray(0, 8).toString()).toBe('out\nout\n')
    expect(log.toString().endsWith(note)).toBe(true)
  })
})
