import { describe, expect, it } from 'vitest'
import type { Digest } from '../../src/layers/digest.js'
import { bytesHeldByNode, type Holdings } from '../../src/layers/image-locality.js'
import { sameImageAs } from '../../src/layers/inventory.js'
import type { InventoryValue } from '../../src/layers/records.js'

const digest = (n: number): Digest => `sha256:${n.toString(16).padStart(64, '0')}` as Digest
const REF = 'registry.test/team/app:v1'

/** Ten layers: nine of 1 MB and one of 9 MB (the last), so counting layers and counting bytes disagree. */
const LAYERS = Array.from({ length: 10 }, (_, i) => ({ digest: digest(i + 1), size: i === 9 ? 9e6 : 1e6 }))

function inventory(parts: Partial<InventoryValue> = {}): InventoryValue {
  return { blobPort: 7422, blobs: [], blobCount: 0, storeBytes: 0, images: [], docker: [], ...parts }
}

function blobs(indexes: number[]): InventoryValue['blobs'] {
  return indexes.map((i) => LAYERS[i]!)
}

function holdings(inventories: Record<string, InventoryValue>, extra: Partial<Holdings> = {}): Holdings {
  const map = new Map(Object.entries(inventories))
  return {
    inventories: map,
    blobHolders: (wanted) =>
      [...map].filter(([, inv]) => inv.blobs.some((blob) => blob.digest === wanted)).map(([peer]) => peer),
    isWanted: sameImageAs(REF),
    ...extra,
  }
}

const listing = (sizes: boolean): InventoryValue['images'][number] => ({
  ref: REF,
  digest: digest(100),
  layers: LAYERS.map((layer) => layer.digest),
  ...(sizes ? { layerSizes: LAYERS.map((layer) => layer.size) } : {}),
  size: 18e6,
})

describe('bytes of an image each node holds', () => {
  it('weighs the layers a node holds by their sizes, from an inventory that lists the image', () => {
    const held = bytesHeldByNode(
      holdings({
        whole: inventory({ images: [listing(true)] }),
        nine: inventory({ blobs: blobs([0, 1, 2, 3, 4, 5, 6, 7, 8]) }),
        big: inventory({ blobs: blobs([9]) }),
        none: inventory({ blobs: [{ digest: digest(500), size: 1e9 }] }),
      }),
    )
    expect(held.get('whole')).toBe(1)
    expect(held.get('nine')).toBeCloseTo(0.5)
    expect(held.get('big')).toBeCloseTo(0.5)
    expect(held.has('none')).toBe(false)
  })

  it('counts layers listed under other images, beyond a blob list cut short', () => {
    const other = { ...listing(false), ref: 'registry.test/team/base:v1', layers: [digest(1), digest(10)] }
    const held = bytesHeldByNode(
      holdings({ whole: inventory({ images: [listing(true)] }), base: inventory({ images: [other] }) }),
    )
    expect(held.get('base')).toBeCloseTo(10 / 18)
  })

  it('takes sizes from this node’s index, else from blob lists, when the listing has none (older nodes)', () => {
    const fromIndex = bytesHeldByNode(
      holdings(
        { old: inventory({ images: [listing(false)] }), part: inventory({ blobs: blobs([9]) }) },
        { localLayers: LAYERS },
      ),
    )
    expect(fromIndex.get('part')).toBeCloseTo(0.5)
    // No index here: the sizes come from the blob list of the node that holds the image.
    const everyBlob = blobs([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    const fromBlobs = bytesHeldByNode(
      holdings({
        old: inventory({ images: [listing(false)], blobs: everyBlob }),
        part: inventory({ blobs: blobs([9]) }),
      }),
    )
    expect(fromBlobs.get('part')).toBeCloseTo(0.5)
    // No size anywhere but the one layer's: the others weigh as much as it does.
    const averaged = bytesHeldByNode(
      holdings({ old: inventory({ images: [listing(false)] }), part: inventory({ blobs: blobs([9]) }) }),
    )
    expect(averaged.get('part')).toBeCloseTo(0.1)
  })

  it('counts a node whose Docker engine has the image tagged as holding all of it', () => {
    const held = bytesHeldByNode(
      holdings({
        lister: inventory({ images: [listing(true)] }),
        engine: inventory({ docker: [{ id: 'sha256:abc', tags: [REF] }] }),
      }),
    )
    expect(held.get('engine')).toBe(1)
  })

  it('knows only whole holders when no node lists the image’s layers', () => {
    const held = bytesHeldByNode(
      holdings({
        engine: inventory({ docker: [{ id: 'sha256:abc', tags: ['registry.test/team/app:v1'] }] }),
        blobs: inventory({ blobs: blobs([0, 1, 2]) }),
      }),
    )
    expect([...held]).toEqual([['engine', 1]])
    expect(bytesHeldByNode(holdings({ blobs: inventory({ blobs: blobs([0]) }) })).size).toBe(0)
  })
})
