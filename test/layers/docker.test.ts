import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDockerd, type TestDockerd } from '../helpers/docker.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { metric } from '../helpers/metrics.js'
import { pushTestImage, type Registry, startRegistry, type TestImage } from '../helpers/registry.js'
import { waitFor } from '../helpers/wait.js'

describe('images into the real Docker engine', () => {
  let registry: Registry
  let dockerd: TestDockerd
  let image: TestImage
  const nodes: TestNode[] = []
  let withDocker: TestNode
  let mirror: TestNode

  beforeAll(async () => {
    registry = await startRegistry()
    image = await pushTestImage(registry.host, 'team/runner', 'v2', [2_000_000])
    dockerd = await startDockerd()
    withDocker = await startNode({ name: 'dock', dockerSocket: dockerd.socket })
    nodes.push(withDocker)
    // --mirror-pull: the mirror node pulls (through the mesh) an image it does not hold yet.
    mirror = await startNode({ name: 'mirror', join: withDocker, tuning: { layers: { mirrorPull: true } } })
    nodes.push(mirror)
  }, 120_000)
  afterAll(async () => {
    await destroyNodes(nodes)
    await dockerd?.stop()
    await registry?.stop()
  })

  it('loads a pulled image into the engine under its reference, and it runs', async () => {
    const ref = `${registry.host}/team/runner:v2`
    const result = await withDocker.daemon.layers.pull(ref, () => undefined)
    expect(result.loadedIntoDocker).toBe(true)
    expect(result.image.digest).toBe(image.manifestDigest)
    const run = await dockerd.docker(['run', '--rm', '--network', 'none', ref])
    expect(run.stderr).toBe('')
    expect(run.stdout.trim()).toBe('hello from shoal')
    // The node's inventory lists the engine's images too.
    await waitFor('the engine image in the inventory', () =>
      withDocker.daemon.layers.imageViews().some((view) => view.source === 'docker' && view.ref === ref),
    )
  })

  it('lets the real docker CLI pull through another node’s registry mirror', async () => {
    await waitFor('the mirror node to see the image in the cluster', () =>
      mirror.daemon.layers.imageViews({ all: true }).some((view) => view.ref.endsWith('team/runner:v2')),
    )
    const port = new URL(mirror.daemon.api.httpUrl).port
    const mirrored = `127.0.0.1:${port}/team/runner:v2`
    const pull = await dockerd.docker(['pull', mirrored])
    expect(pull.code, pull.stderr).toBe(0)
    const run = await dockerd.docker(['run', '--rm', '--network', 'none', mirrored])
    expect(run.stdout.trim()).toBe('hello from shoal')
    // The mirror node got the image from its peer, not from the origin.
    expect(mirror.daemon.layers.store.has(image.layers[1]!.digest as never)).toBe(true)
    expect(await metric(mirror, 'shoal_layer_bytes_total', { source: 'origin' })).toBe(0)
    expect(await metric(mirror, 'shoal_layer_bytes_total', { source: 'peer' })).toBe(image.size)
  })
})
