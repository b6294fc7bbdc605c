// Assembles a `docker load` archive (manifest.json, config, layers) from the store, streamed, nothing copied to disk.
import { PassThrough, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import tar from 'tar-stream'
import { digestHex } from './digest.js'
import type { LocalImage } from './images.js'
import type { BlobStore } from './store.js'

/** The archive for `image`, tagged as `tag` (Docker's reference form, e.g. `127.0.0.1:5000/team/app:v1`). */
export function dockerArchive(store: BlobStore, image: LocalImage, tag: string): Readable {
  const pack = tar.pack()
  const output = new PassThrough({ highWaterMark: 1024 * 1024 })
  const configName = `${digestHex(image.config.digest)}.json`
  const layerNames = image.layers.map((layer) => `${digestHex(layer.digest)}/layer.tar`)
  const fill = async (): Promise<void> => {
    await addFile(pack, configName, image.config.size, store.read(image.config.digest))
    for (const [i, layer] of image.layers.entries()) {
      await addFile(pack, layerNames[i]!, layer.size, store.read(layer.digest))
    }
    const manifest = JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: layerNames }])
    pack.entry({ name: 'manifest.json' }, manifest)
    pack.finalize()
  }
  fill().catch((err: Error) => pack.destroy(err))
  pipeline(pack, output).catch((err: Error) => output.destroy(err))
  return output
}

async function addFile(pack: tar.Pack, name: string, size: number, content: Readable): Promise<void> {
  const entry = pack.entry({ name, size })
  await pipeline(content, entry)
}
