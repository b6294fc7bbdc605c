// The layers part's face: blobs shared peer-to-peer so the cluster fetches each layer from its registry about once.
import { Layers } from './layers.js'
import type { LayersComponents, LayersInit } from './types.js'

export * as layerConstants from './constants.js'
export type { Digest } from './digest.js'
export { parseDigest } from './digest.js'
export type { LocalImage } from './images.js'
export { sameImageAs } from './inventory.js'
export { Layers } from './layers.js'
export type { PullEvent } from './pull-types.js'
export { fetchKind, inventoryKind, layerKinds } from './records.js'
export { formatReference, parseReference } from './reference.js'
export type { ImageView, LayersComponents, LayersInit, LayerView, PullResult } from './types.js'

export function createLayers(components: LayersComponents, init: LayersInit): Layers {
  return new Layers(components, init)
}
