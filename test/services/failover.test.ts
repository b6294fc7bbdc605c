// Services through daemon processes: kill -9 of a node moves its instance with its variables; the node, back, leaves no duplicate.
import { afterAll, describe, expect, it } from 'vitest'
import { createClient } from '../../cli/client.js'
import type { ServiceView, SlotVars } from '../../src/services/index.js'
import { agreedProcesses } from '../helpers/coordinator.js'
import { processAlive } from '../helpers/jobs.js'
import { cleanupDaemons, joinArgs, signalDaemon, spawnDaemon } from '../helpers/processes.js'
import { COUNTER, instanceProcesses } from '../helpers/services.js'
import { waitFor } from '../helpers/wait.js'

const NO_DOCKER = ['--docker-socket', '/nonexistent/docker.sock']

describe('services when nodes die', () => {
  const leftovers: number[] = []
  afterAll(async () => {
    for (const pid of leftovers) if (processAlive(pid)) process.kill(pid, 'SIGKILL')
    await cleanupDaemons()
  })

  it('runs 3 again on the survivors after kill -9, the slot keeps its count, and the node back leaves no duplicate', async () => {
    const first = await spawnDaemon({ name: 'sv1', args: NO_DOCKER })
    const join = [...NO_DOCKER, ...joinArgs(first)]
    const procs = [
      first,
      ...(await Promise.all([2, 3].map((n) => spawnDaemon({ name: `sv${n}`, args: join })))),
    ]
    const view = await agreedProcesses(procs, 'three daemons to agree on a coordinator')
    const api = createClient(procs[0]!.dataDir)
    await api.post('/v1/services', { name: 'tally', command: COUNTER, replicas: 3, vars: { count: 0 } })
    const placed = await waitFor('3 instances running on 3 nodes', async () => {
      const status = await api.get<ServiceView>('/v1/services/tally')
      const nodes = new Set(status.instances.map((instance) => instance.node))
      return status.ready === 3 && nodes.size === 3 ? status : undefined
    })
    for (const pid of (await instanceProcesses('tally')).keys()) leftovers.push(pid)

    // The victim is not the coordinator, so the survivors' coordinator acts at once.
    const victim = procs.find((proc) => proc.status.peerId !== view.holder && proc !== procs[0])!
    const survivors = procs.filter((proc) => proc !== victim)
    const slot = placed.instances.find((instance) => instance.node === victim.status.peerId)!.slot
    const countOf = async (client = api): Promise<number> =>
      Number((await client.get<SlotVars[]>('/v1/services/tally/vars'))[slot]!.values.count)
    await waitFor('the victim’s slot to count past 10', async () => (await countOf()) > 10)
    await signalDaemon(victim, 'SIGKILL')
    const atKill = await countOf()

    const after = await waitFor(
      '3 instances running on the 2 survivors',
      async () => {
        const status = await api.get<ServiceView>('/v1/services/tally')
        const onSurvivors = status.instances.every((instance) => instance.node !== victim.status.peerId)
        return status.ready === 3 && onSurvivors ? status : undefined
      },
      { timeoutMs: 30_000 },
    )
    expect(new Set(after.instances.map((instance) => instance.node)).size).toBe(2)
    // The moved slot started from its last replicated value, not from 0.
    const resumed = await waitFor('the moved slot to count on', async () => {
      const vars = await api.get<SlotVars[]>('/v1/services/tally/vars')
      const moved = vars[slot]!
      return moved.node !== victim.status.peerId && moved.replicated ? Number(moved.values.count) : undefined
    })
    expect(resumed).toBeGreaterThanOrEqual(atKill)
    // The victim's process outlived it (its work did not die with the daemon): 4 processes for 3 slots.
    for (const pid of (await instanceProcesses('tally')).keys()) leftovers.push(pid)
    expect((await instanceProcesses('tally')).size).toBe(4)

    // Back on its data directory, it finds its slot moved and stops the copy it left: 3 processes again.
    const back = await spawnDaemon({
      name: victim.name,
      dataDir: victim.dataDir,
      args: [...NO_DOCKER, ...joinArgs(first, survivors[1]!)],
    })
    await waitFor(
      'one process per slot',
      async () => {
        const running = await instanceProcesses('tally')
        return running.size === 3 && new Set(running.values()).size === 3
      },
      { timeoutMs: 30_000 },
    )
    const fromBack = createClient(back.dataDir)
    await waitFor('the returning node to see 3 running', async () => {
      const status = await fromBack.get<ServiceView>('/v1/services/tally')
      return status.ready === 3
    })
  }, 180_000)
})

describe('a daemon restarted after kill -9', () => {
  afterAll(async () => {
    await cleanupDaemons()
  })

  it('takes over its running exec instance instead of starting a second one', async () => {
    const proc = await spawnDaemon({ name: 'adopt', args: NO_DOCKER })
    const api = createClient(proc.dataDir)
    await api.post('/v1/services', { name: 'keeper', command: ['sleep', '600'], replicas: 1 })
    await waitFor(
      'the instance running',
      async () => (await api.get<ServiceView>('/v1/services/keeper')).ready === 1,
    )
    const [pid] = [...(await instanceProcesses('keeper')).keys()]
    expect(pid).toBeDefined()

    await signalDaemon(proc, 'SIGKILL')
    expect(processAlive(pid!)).toBe(true)
    const back = await spawnDaemon({ name: 'adopt', dataDir: proc.dataDir, args: NO_DOCKER })
    const again = createClient(back.dataDir)
    await waitFor('the instance running again', async () => {
      const status = await again.get<ServiceView>('/v1/services/keeper')
      return status.ready === 1 && status.instances[0]!.startedAt !== null
    })
    // The same process, and only it: taken over, not started twice, not restarted.
    const running = await instanceProcesses('keeper')
    expect([...running.keys()]).toEqual([pid])
    const status = await again.get<ServiceView>('/v1/services/keeper')
    expect(status.instances[0]!.restarts).toBe(0)

    // Stopped through the daemon that took it over, it goes.
    await again.post('/v1/services/keeper/stop', {})
    await waitFor('the adopted process to end', () => !processAlive(pid!))
  }, 60_000)
})
