// Services through in-process daemons: replicas spread over nodes, variables replicated, reset, scale, stop and start, remove.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startCluster, type TestNode } from '../helpers/in-process.js'
import { COUNTER } from '../helpers/services.js'
import { sleep, waitFor } from '../helpers/wait.js'

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
    await waitFor('every node to remove the service’s directory', () =>
      nodes.every((node) => !existsSync(join(node.dataDir, 'services', 'counter'))),
    )
    await waitFor('the removal to reach every node', () =>
      nodes.every((node) => node.daemon.services.list().every((view) => view.name !== 'counter')),
    )
  }, 120_000)

  it('keeps the last good variables when an instance writes too many, and names the limit', async () => {
    const services = nodes[0]!.daemon.services
    const script =
      'printf \'{"small": 1}\' > "$SHOAL_VARS"; sleep 3; ' +
      'head -c 20000 /dev/zero | tr "\\0" x | sed \'s/.*/{"big": "&"}/\' > "$SHOAL_VARS"; exec sleep 600'
    await services.add([{ name: 'hoarder', command: ['sh', '-c', script] }])
    const view = await waitFor(
      'the instance to report its variables too large',
      () => {
        const status = services.status('hoarder')
        return status.instances[0]?.reason?.includes('16384-byte limit') ? status : undefined
      },
      { timeoutMs: 30_000 },
    )
    expect(view.instances[0]!.state).toBe('running')
    expect(services.vars('hoarder')[0]!.values).toEqual({ small: 1 })
    await services.remove('hoarder')
  }, 60_000)

  it('refuses bad specs and writes nothing', async () => {
    const services = nodes[0]!.daemon.services
    const before = services.list().length
    const big = { blob: 'x'.repeat(20_000) }
    await expect(services.add([{ name: 'fat', command: ['true'], vars: big }])).rejects.toMatchObject({
      code: 'SHOAL_INVALID_SERVICE',
    })
    await expect(services.add([{ name: 'neg', command: ['true'], replicas: -1 }])).rejects.toMatchObject({
      code: 'SHOAL_INVALID_SERVICE',
    })
    // The kernel ends a process's strings at NUL: none may hold one.
    for (const nul of [{ command: 'echo a\0b' }, { command: ['echo', 'a\0b'] }, { env: { X: 'a\0b' } }]) {
      await expect(services.add([{ name: 'nul', command: ['true'], ...nul }])).rejects.toMatchObject({
        code: 'SHOAL_INVALID_SERVICE',
        message: expect.stringMatching(/NUL/),
      })
    }
    await services.add([{ name: 'dup', command: ['sleep', '600'] }])
    await expect(services.add([{ name: 'dup', command: ['true'] }])).rejects.toMatchObject({
      code: 'SHOAL_SERVICE_EXISTS',
    })
    // All or nothing: a batch with one bad spec adds none of them.
    await expect(
      services.add([
        { name: 'good', command: ['true'] },
        { name: 'bad', driver: 'docker', command: ['true'] },
      ]),
    ).rejects.toMatchObject({ code: 'SHOAL_INVALID_SERVICE' })
    expect(() => services.status('good')).toThrow(/no service good/)
    await expect(services.scale('dup', -1)).rejects.toMatchObject({ code: 'SHOAL_INVALID_SERVICE' })
    expect(() => services.status('nope')).toThrow(
      expect.objectContaining({ code: 'SHOAL_SERVICE_NOT_FOUND' }),
    )
    expect(services.list().length).toBe(before + 1)
    await services.remove('dup')
  }, 30_000)

  it('restarts an instance whose health check keeps failing, and shows a passing one healthy', async () => {
    const services = nodes[0]!.daemon.services
    await services.add([
      { name: 'fine', command: ['sleep', '600'], health: { cmd: 'true', interval: '200ms', retries: 2 } },
      {
        name: 'sick',
        command: ['sleep', '600'],
        health: { cmd: 'echo not ready; exit 1', interval: '200ms', retries: 2 },
      },
    ])
    await waitFor('the passing one healthy', () => services.status('fine').instances[0]?.health === 'healthy')
    expect(services.status('fine').ready).toBe(1)
    const sick = await waitFor('the failing one restarted for it', () => {
      const instance = services.status('sick').instances[0]
      return instance !== undefined && instance.restarts >= 1 ? instance : undefined
    })
    expect(sick.reason).toMatch(/not ready/)
    expect(services.status('sick').ready).toBe(0)
    const metrics = await nodes
      .find((n) => n.daemon.peerId === services.status('fine').instances[0]!.node)!
      .daemon.metrics.getSingleMetricAsString('shoal_service_instances_running')
    expect(metrics).toMatch(/shoal_service_instances_running [1-9]/)
    await services.remove('fine')
    await services.remove('sick')
  }, 60_000)

  it('does not rewrite a node’s status record on heartbeats while its instance runs steadily', async () => {
    const services = nodes[0]!.daemon.services
    await services.add([{ name: 'steady', command: ['sleep', '600'] }])
    const view = await waitFor('the instance running', () => {
      const status = services.status('steady')
      return status.ready === 1 ? status : undefined
    })
    const host = nodes.find((node) => node.daemon.peerId === view.instances[0]!.node)!
    const stampOf = () => host.daemon.services.book.instances.get(host.daemon.peerId)?.stamp
    // The first heartbeat measures it (news: its usage was not known); from then on nothing moves.
    await waitFor('its first usage report', () => services.status('steady').instances[0]!.memory > 0, {
      timeoutMs: 30_000,
    })
    await sleep(1_000)
    const before = stampOf()
    // Two heartbeats (10 s each) measure usage; a sleeping process's usage does not move.
    await sleep(25_000)
    expect(stampOf()).toEqual(before)
    await services.remove('steady')
  }, 60_000)
})
