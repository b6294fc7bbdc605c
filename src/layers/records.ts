// The layer records: `inventory/<peerId>` (what a node holds) and `fetch/<hex>` (who fetches a blob from its origin).
import { z } from 'zod'
import { PEER_ID_PATTERN, type RecordKind, type StateRecord } from '../state/index.js'
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
        size: uint,
      }),
    )
    .max(200),
  /** Images in the node's Docker engine. */
  docker: z.array(z.object({ id: z.string().max(100), tags: z.array(z.string().max(512)).max(32) })).max(200),
})
export type InventoryValue = z.infer<typeof inventoryValueSchema>

export const INVENTORY_KIND = 'inventory'
export const inventoryKind: RecordKind<InventoryValue> = {
  name: INVENTORY_KIND,
  schema: inventoryValueSchema,
  writer: 'key-owner',
}

export function inventoryKey(peerId: string): string {
  return `${INVENTORY_KIND}/${peerId}`
}

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
export const fetchKind: RecordKind<FetchClaim> = {
  name: FETCH_KIND,
  schema: fetchClaimSchema,
  writer: (record: StateRecord) => {
    if (record.deleted)
      return record.key.endsWith(`/${record.origin}`) ? undefined : `${record.key} is not ${record.origin}'s`
    const value = record.value as FetchClaim
    if (value.holder !== record.origin) return `${record.origin} claimed a fetch for ${value.holder}`
    if (fetchKey(value.digest, record.origin) !== record.key)
      return `${record.key} is not ${record.origin}'s claim on ${value.digest}`
    return undefined
  },
}

/** One claim record per claimant (`fetch/<hex>/<peerId>`), so that claims never overwrite each other. */
export function fetchKey(blob: Digest, peer: string): string {
  return `${FETCH_KIND}/${blob.slice('sha256:'.length)}/${peer}`
}
