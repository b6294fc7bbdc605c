// Services through in-process daemons: replicas spread over nodes, variables replicated, reset, scale, stop and start, remove.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startCluster, type TestNode } from '../helpers/in-process.js'
import { COUNTER } from '../helpers/services.js'
import { waitFor } from '../helpers/wait.js'

describe('services', () => {
  let nodes: TestNode[]

  beforeAll(async () => {
    nodes = await startCluster(3, 'svc')
    await agreedCoordinator(nodes)
  }, 60_000)
  afterAll(async () => {
    await destroyNodes(nodes ?? [])
  })

  it('runs 3 replicas on 3 nodes and keeps their variables', async () => {
    const services = nodes[1]!.daemon.services
    await services.add([{ name: 'counter', command: COUNTER, replicas: 3, vars: { count: 0, label: 'x' } }])
    const view = await waitFor('three instances running', () => {
      const status = nodes[2]!.daemon.services.status('counter')
      return status.ready === 3 ? status : undefined
    })
    expect(new Set(view.instances.map((instance) => instance.node)).size).toBe(3)
    expect(view.appliedGeneration).toBe(1)
    const vars = await waitFor('variables replicated from every instance', () => {
      const all = nodes[0]!.daemon.services.vars('counter')
      return all.every((slot) => slot.replicated && Number(slot.values.count) >= 3) ? all : undefined
    })
    expect(vars.every((slot) => slot.values.label === 'x')).toBe(true)

    await services.reset('count')
    await waitFor('variables back near their initial values after a reset', () => {
      const all = nodes[0]!.daemon.services.vars('counter')
      return all.every((slot) => slot.replicated && Number(slot.values.count) < 30) ? all : undefined
    })

    await services.scale('counter', 1)
    await waitFor('one instance left after scaling down', () => {
      const running = nodes.reduce((sum, node) => sum + node.daemon.services.runningHere(), 0)
      return running === 1
    })

    await services.stop('counter')
    await waitFor(
      'the instance stopped',
      () => nodes[0]!.daemon.services.status('counter').instances[0]?.state === 'stopped',
    )
    await services.start('counter')
    await waitFor('running again', () => nodes[0]!.daemon.services.status('counter').ready === 1)

    await services.remove('counter')
    await waitFor('nothing runs once removed', () =>
      nodes.every((node) => node.daemon.services.runningHere() === 0),
    )
    expect(() => nodes[0]!.daemon.services.status('counter')).toThrow(/no service/)
  }, 120_000)
})
