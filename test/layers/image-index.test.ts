// The image index file (images.json): concurrent writes all land, and a damaged file is set aside and rebuilt at start.
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Digest } from '../../src/layers/digest.js'
import { ImageIndex, type LocalImage } from '../../src/layers/images.js'
import { inventoryKind } from '../../src/layers/index.js'
import { startNode, type TestNode } from '../helpers/in-process.js'
import { type CountedOrigin, startCountedOrigin } from '../helpers/registry.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const hex = (n: number): Digest => `sha256:${n.toString(16).padStart(64, '0')}`

function image(n: number): LocalImage {
  return {
    ref: `registry.test/team/app:v${n}`,
    digest: hex(n),
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { digest: hex(1_000 + n), size: 10 },
    layers: [{ digest: hex(2_000 + n), size: 20 }],
    size: 30,
    pulledAt: new Date(0).toISOString(),
  }
}

describe('writing the image index', () => {
  it('lands every one of many concurrent writes, and leaves no temporary file', async () => {
    const dir = await makeTempDir('shoal-images-')
    try {
      const path = join(dir, 'images.json')
      const index = new ImageIndex(path)
      await index.load()
      const puts = Array.from({ length: 25 }, (_, n) => index.put(image(n)))
      // Removals interleaved with the puts are ordered with them too.
      const removals = [index.remove(image(3).ref), index.remove(image(7).ref)]
      await Promise.all([...puts, ...removals])
      const again = new ImageIndex(path)
      expect(await again.load()).toEqual({ state: 'loaded' })
      expect(again.list()).toHaveLength(23)
      expect(again.get(image(24).ref)).toEqual(image(24))
      expect(again.get(image(3).ref)).toBeUndefined()
      expect(await readdir(dir)).toEqual(['images.json'])
    } finally {
      await removeDir(dir)
    }
  })
})

describe('a damaged image index at start', () => {
  let origin: CountedOrigin
  let node: TestNode
  let dataDir: string
  const indexPath = (): string => join(dataDir, 'images.json')

  /** Stops the node, puts `text` in its index file, starts it again on the same data directory. */
  async function restartWith(text: string): Promise<void> {
    await node.stop()
    await writeFile(indexPath(), text)
    node = await startNode({ name: 'index', dataDir })
  }

  /** The damaged files kept aside, with what each holds. */
  async function keptAside(): Promise<string[]> {
    const names = (await readdir(dataDir)).filter((name) => name.startsWith('images.json.corrupt-'))
    return Promise.all(names.map((name) => readFile(join(dataDir, name), 'utf8')))
  }

  /** The node indexes the pulled image again, with every blob, and wrote a sound index file. */
  async function expectRebuilt(): Promise<void> {
    const rebuilt = node.daemon.layers.images.get(origin.ref)
    const expected = origin.image
    expect(rebuilt?.digest).toBe(expected.manifestDigest)
    expect(rebuilt?.layers.map((layer) => layer.digest)).toEqual(expected.layers.map((layer) => layer.digest))
    expect(rebuilt?.config.digest).toBe(expected.blobs[0]!.digest)
    expect(rebuilt?.size).toBe(expected.size)
    const file = JSON.parse(await readFile(indexPath(), 'utf8')) as { images: LocalImage[] }
    expect(file.images.map((entry) => entry.digest)).toContain(expected.manifestDigest)
  }

  beforeAll(async () => {
    origin = await startCountedOrigin('team/index', 'v1', [1_000_000])
    node = await startNode({ name: 'index' })
    dataDir = node.dataDir
    await node.daemon.layers.pull(origin.ref, () => undefined)
    // The node's own inventory record (in LevelDB) names the image: what a rebuild reads names from.
    await waitFor('the inventory record to list the image', () =>
      node.daemon.state
        .kind(inventoryKind)
        .value(node.daemon.peerId)
        ?.images.some((entry) => entry.ref === origin.ref),
    )
  }, 60_000)
  afterAll(async () => {
    await node?.stop()
    await removeDir(dataDir)
    await origin?.stop()
  })

  it('starts with a file that is not JSON: keeps it aside and rebuilds the index from the store', async () => {
    await restartWith('{"images": [ {"ref": "trunc')
    expect(await keptAside()).toEqual(['{"images": [ {"ref": "trunc'])
    await expectRebuilt()
  })

  it('treats a file of the wrong shape the same way, instead of ignoring it', async () => {
    await restartWith('{"images": "none"}\n')
    expect((await keptAside()).filter((text) => text.includes('"none"'))).toHaveLength(1)
    await expectRebuilt()
  })

  it('keeps the sound entries of a file with one bad entry, and sets the file aside', async () => {
    const other = image(1)
    const sound = JSON.parse(await readFile(indexPath(), 'utf8')) as { images: unknown[] }
    const text = JSON.stringify({ images: [...sound.images, other, { ...image(2), ref: 'NOT A REFERENCE' }] })
    await restartWith(text)
    expect(await keptAside()).toContain(text)
    // The entry that parses stays, though its blobs are not in the store (the file said so; nothing lost).
    expect(node.daemon.layers.images.get(other.ref)).toEqual(other)
    expect(node.daemon.layers.images.list().map((entry) => entry.ref)).not.toContain('NOT A REFERENCE')
    await expectRebuilt()
  })
})
