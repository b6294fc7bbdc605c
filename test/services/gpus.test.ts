// GPUs for services on a node declaring a fake set: each instance gets its own device, and a third waits for room.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { waitFor } from '../helpers/wait.js'

/** Reports the devices it was given through its variables. */
const REPORT = [
  'sh',
  '-c',
  'printf "{\\"cuda\\": \\"%s\\"}" "$CUDA_VISIBLE_DEVICES" > "$SHOAL_VARS"; exec sleep 600',
]

describe('services on GPUs', () => {
  let node: TestNode

  beforeAll(async () => {
    node = await startNode({
      name: 'gpu0',
      tuning: { membership: { gpus: { count: 2, model: 'FakeGPU-X' } } },
    })
    await agreedCoordinator([node])
  }, 60_000)
  afterAll(async () => {
    await destroyNodes(node === undefined ? [] : [node])
  })

  it('gives each instance its own device and leaves a third unplaced while both are held', async () => {
    const services = node.daemon.services
    await services.add([{ name: 'trainer', command: REPORT, replicas: 3, resources: { gpu: 1 } }])
    const vars = await waitFor('two instances to report their devices', () => {
      const all = services.vars('trainer').filter((slot) => slot.replicated)
      return all.length === 2 ? all : undefined
    })
    expect(vars.map((slot) => slot.values.cuda).sort()).toEqual(['0', '1'])
    const view = services.status('trainer')
    expect(view.ready).toBe(2)
    expect(view.instances[2]!.node).toBeNull()
    expect(view.instances[2]!.reason).toMatch(/no live node fits/)
  }, 60_000)
})
