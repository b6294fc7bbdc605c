// The layer records: `inventory/<peerId>` (what a node holds) and `fetch/<hex>` (who fetches a blob from its origin).
import { z } from 'zod'
import { defineKind, PEER_ID_PATTERN, subjectOf } from '../state/index.js'
import { type Digest, isDigest } from './digest.js'

const digest = z.string().refine(isDigest, 'not a sha256 digest') as unknown as z.ZodType<Digest>
const uint = z.number().int().nonnegative()

export const inventoryValueSchema = z.object({
  /** Port of this node's blob channel (TLS-PSK); its host is the node's address. */
  blobPort: z.number().int().min(1).max(65_535),
  /** Complete blobs in the store, newest first, at most MAX_INVENTORY_BLOBS. */
  blobs: z.array(z.object({ digest, size: uint })).max(1_000),
  /** All blobs in the store, and their bytes, even when the list above is cut short. */
  blobCount: uint,
  storeBytes: uint,
  images: z
    .array(
      z.object({
        ref: z.string().max(512),
        digest,
        layers: z.array(digest).max(512),
        /** Bytes of each layer, in the order of `layers` (absent from nodes older than locality by bytes). */
        layerSizes: z.array(uint).max(512).optional(),
        size: uint,
      }),
    )
    .max(200),
  /** Images in the node's Docker engine. */
  docker: z.array(z.object({ id: z.string().max(100), tags: z.array(z.string().max(512)).max(32) })).max(200),
})
export type InventoryValue = z.infer<typeof inventoryValueSchema>

export const INVENTORY_KIND = 'inventory'
/**
 * `inventory/<peerId>`: what a node holds, written only by that node. The coordinator deletes the inventory of a
 * node gone for good (any member may write the tombstone; a node alive to see it publishes again).
 */
export const inventoryKind = defineKind<InventoryValue>({
  name: INVENTORY_KIND,
  schema: inventoryValueSchema,
  writer: (record) => {
    if (record.deleted) return undefined
    return subjectOf(record.key) === record.origin
      ? undefined
      : `${record.key} may only be written by its subject`
  },
})

export const fetchClaimSchema = z.object({
  holder: z.string().regex(PEER_ID_PATTERN),
  digest,
  size: uint.optional(),
  /** HLC stamp of the first claim (kept across renewals): the earliest live claim wins. */
  claimedAt: z.object({ wall: uint, counter: uint, node: z.string().regex(PEER_ID_PATTERN) }),
  /**
   * `origin`: fetching the blob from its registry; `relay`: streaming it from another node while it arrives
   * there, and passing it on. Relays line up in a chain by `claimedAt` (see Layers.relayUpstream).
   */
  mode: z.enum(['origin', 'relay']).optional(),
  /**
   * An origin claim that won its settle and is fetching. A claimant whose earlier claim reached the others
   * too late (it was stalled) gives way to one already fetching instead of fetching the blob a second time.
   */
  fetching: z.boolean().optional(),
})
export type FetchClaim = z.infer<typeof fetchClaimSchema>

export const FETCH_KIND = 'fetch'
/** `fetch/<hex>/<peerId>`: one claim per claimant, so that claims never overwrite each other. */
export const fetchKind = defineKind<FetchClaim>({
  name: FETCH_KIND,
  schema: fetchClaimSchema,
  writer: (record) => {
    const value = record.value
    // A claim is deleted by its claimant when it is done, or by the coordinator when its claimant is gone for good.
    if (record.deleted || value === null) return undefined
    if (value.holder !== record.origin) return `${record.origin} claimed a fetch for ${value.holder}`
    if (`${FETCH_KIND}/${fetchClaimId(value.digest, record.origin)}` !== record.key)
      return `${record.key} is not ${record.origin}'s claim on ${value.digest}`
    return undefined
  },
})

/** The id of a peer's claim on a blob: `<hex>/<peerId>`. */
export function fetchClaimId(blob: Digest, peer: string): string {
  return `${blob.slice('sha256:'.length)}/${peer}`
}

/** The kinds the layers part writes. */
export const layerKinds = [inventoryKind, fetchKind]
