// Docker services in a real engine: a spec change replaces containers one at a time, every instance acknowledges the new generation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from '../../cli/client.js'
import type { ServiceView } from '../../src/services/index.js'
import { importBusybox, startDockerd, type TestDockerd } from '../helpers/docker.js'
import { cleanupDaemons, type DaemonProcess, joinArgs, spawnDaemon } from '../helpers/processes.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const IMAGE = 'shoal-test/busybox:svc'
/** Prints its greeting, then waits; exits at once on SIGTERM (as PID 1 it would otherwise ignore it). */
const COMMAND = [
  '/bin/busybox',
  'sh',
  '-c',
  'trap "exit 0" TERM; echo "$GREETING"; while true; do sleep 1; done',
]

describe('docker services in a real engine', () => {
  let dockerd: TestDockerd
  let scratch: string
  let procs: DaemonProcess[]

  beforeAll(async () => {
    scratch = await makeTempDir('shoal-docksvc-')
    dockerd = await startDockerd()
    await importBusybox(dockerd, scratch, IMAGE)
    const engine = ['--docker-socket', dockerd.socket]
    const one = await spawnDaemon({ name: 'dk1', args: engine })
    const two = await spawnDaemon({ name: 'dk2', args: [...engine, ...joinArgs(one)] })
    procs = [one, two]
  }, 120_000)
  afterAll(async () => {
    await cleanupDaemons()
    await dockerd?.stop()
    await removeDir(scratch)
  })

  const containers = async (): Promise<string[]> => {
    const ps = await dockerd.docker([
      'ps',
      '--format',
      '{{.Names}}',
      '--filter',
      'label=shoal.service=greeter',
    ])
    return ps.stdout.trim().split('\n').filter(Boolean).sort()
  }

  it('rolls a spec change one container at a time; every instance acknowledges the new generation', async () => {
    const api = createClient(procs[0]!.dataDir)
    const spec = { name: 'greeter', image: IMAGE, command: COMMAND, env: { GREETING: 'hello' }, replicas: 3 }
    await api.post('/v1/services', spec)
    await waitFor(
      '3 containers running',
      async () => {
        const status = await api.get<ServiceView>('/v1/services/greeter')
        return status.ready === 3 && (await containers()).length === 3
      },
      { timeoutMs: 60_000 },
    )
    expect((await containers()).every((name) => name.includes('-g1-'))).toBe(true)

    const update = await api.put<ServiceView>('/v1/services/greeter', {
      ...spec,
      env: { GREETING: 'bonjour' },
    })
    expect(update.generation).toBe(2)
    // Watch the rollout: never more than one instance down at once.
    let mostDown = 0
    const done = await waitFor(
      'every instance on generation 2',
      async () => {
        const status = await api.get<ServiceView>('/v1/services/greeter')
        const down = status.instances.filter((instance) => instance.state !== 'running').length
        mostDown = Math.max(mostDown, down)
        const rolled = status.instances.every(
          (instance) => instance.generation === 2 && instance.state === 'running',
        )
        return rolled ? status : undefined
      },
      { timeoutMs: 90_000, intervalMs: 20 },
    )
    expect(mostDown).toBeLessThanOrEqual(1)
    expect(done.appliedGeneration).toBe(2)
    await waitFor('only generation-2 containers left', async () => {
      const names = await containers()
      return names.length === 3 && names.every((name) => name.includes('-g2-'))
    })
    // The new containers run the new spec.
    const name = (await containers())[0]!
    const logs = await dockerd.docker(['logs', name])
    expect(logs.stdout).toContain('bonjour')
  }, 180_000)
})
