import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ImageView, LayerView } from '../../src/api/types.js'
import {
  cleanupDaemons,
  cliJson,
  type DaemonProcess,
  joinArgs,
  runCli,
  spawnDaemon,
} from '../helpers/processes.js'
import { pushTestImage, type Registry, startRegistry, type TestImage } from '../helpers/registry.js'
import { waitFor } from '../helpers/wait.js'

const NO_DOCKER = ['--docker-socket', '/nonexistent/docker.sock']

describe('image list --node and layer list --node, between two daemons', () => {
  let registry: Registry
  let image: TestImage
  let ref: string
  let holder: DaemonProcess
  let other: DaemonProcess

  beforeAll(async () => {
    registry = await startRegistry()
    image = await pushTestImage(registry.host, 'team/listed', 'v1', [200_000])
    ref = `${registry.host}/team/listed:v1`
    holder = await spawnDaemon({ name: 'holder', args: NO_DOCKER })
    other = await spawnDaemon({ name: 'other', args: [...NO_DOCKER, ...joinArgs(holder)] })
    const pulled = await runCli(['image', 'pull', ref, '--json', '--data-dir', holder.dataDir])
    expect(pulled.code, pulled.stderr).toBe(0)
    // The holder's inventory reaches the other node a moment after the pull.
    await waitFor('the other node to see the holder’s image', async () => {
      const all = await cliJson<ImageView[]>(other.dataDir, 'image', 'list', '--all')
      return all.some((view) => view.ref === ref)
    })
  }, 120_000)
  afterAll(async () => {
    await cleanupDaemons()
    await registry?.stop()
  })

  it('lists a node’s images by name or id from any node, and none for a node that holds none', async () => {
    for (const asker of [holder, other]) {
      for (const name of ['holder', holder.status.peerId]) {
        const views = await cliJson<ImageView[]>(asker.dataDir, 'image', 'list', '--node', name)
        expect(views.map((view) => [view.ref, view.nodeName, view.source, view.digest])).toEqual([
          [ref, 'holder', 'store', image.manifestDigest],
        ])
        expect(views[0]!.layers).toEqual(image.layers.map((layer) => layer.digest))
      }
      expect(await cliJson<ImageView[]>(asker.dataDir, 'image', 'list', '--node', 'other')).toEqual([])
    }
    const table = await runCli(['image', 'list', '--node', 'holder', '--data-dir', other.dataDir])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toContain(ref)
    const empty = await runCli(['image', 'list', '--node', 'other', '--data-dir', holder.dataDir])
    expect(empty.stdout.trim()).toBe('no images')
  })

  it('lists a node’s layers with their holders from any node, and none for a node that holds none', async () => {
    for (const asker of [holder, other]) {
      const layers = await cliJson<LayerView[]>(asker.dataDir, 'layer', 'list', '--node', 'holder')
      const byDigest = new Map(layers.map((layer) => [layer.digest as string, layer]))
      for (const blob of image.blobs) {
        expect(byDigest.get(blob.digest), blob.digest).toEqual({
          digest: blob.digest,
          size: blob.size,
          holders: [holder.status.peerId],
        })
      }
      expect(await cliJson<LayerView[]>(asker.dataDir, 'layer', 'list', '--node', 'other')).toEqual([])
    }
    const quiet = await runCli(['layer', 'list', '--node', 'holder', '-q', '--data-dir', other.dataDir])
    expect(quiet.stdout.trim().split('\n')).toEqual(
      expect.arrayContaining(image.blobs.map((blob) => blob.digest)),
    )
  })

  it('refuses a node it does not know (exit 1, SHOAL_NODE_NOT_FOUND)', async () => {
    const result = await runCli(['image', 'list', '--node', 'nobody', '--json', '--data-dir', other.dataDir])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('SHOAL_NODE_NOT_FOUND')
    const layers = await runCli(['layer', 'list', '--node', 'nobody', '--data-dir', other.dataDir])
    expect(layers.code).toBe(1)
    expect(layers.stderr).toContain('SHOAL_NODE_NOT_FOUND')
  })
})
