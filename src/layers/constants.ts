// Layer sharing limits and timings, with where each number comes from.

/** Default cap on the content store; `--store-max` changes it. Unreferenced blobs are evicted past it. */
export const DEFAULT_STORE_MAX_BYTES = 20 * 1024 ** 3

/** The blob channel's default TCP port (TLS with a key derived from the swarm key), next to p2p and HTTP. */
export const DEFAULT_BLOB_PORT = 7422

/**
 * A claim to fetch a blob from its origin lasts this long unless renewed; the claimant renews it every
 * CLAIM_RENEW_MS while it downloads. A claimant that dies is replaced within one claim lifetime.
 */
export const CLAIM_TTL_MS = 6_000
export const CLAIM_RENEW_MS = 2_000

/**
 * After claiming, wait this long for an earlier competing claim to arrive before fetching from the origin.
 * Gossip takes milliseconds between idle machines; a busy daemon (hashing and serving several layers) can
 * take a few hundred, and a late-arriving earlier claim means a second fetch from the origin.
 */
export const CLAIM_SETTLE_MS = 500

/** A node joining a relay chain waits this long to see who else joins before it picks its upstream. */
export const RELAY_SETTLE_MS = 200

/**
 * A relay looks this often for a relay that joined between its upstream and itself (relays that joined at the
 * same moment, before they saw each other, all stream from one upstream); it moves there once two looks agree.
 */
export const RELAY_RECHECK_MS = 250

/** Blobs at least this big are fetched from several holders at once, in ranges of at least this size. */
export const MIN_RANGE_BYTES = 8 * 1024 * 1024

/** Range requests to one blob in flight at once (several holders, or several connections to one). */
export const MAX_PARALLEL_RANGES = 4

/** Layers of one image pulled at once. */
export const MAX_PARALLEL_LAYERS = 8

/** Manifests larger than this are refused (Docker's own limit is 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024

/** One registry request (headers) or one peer connection attempt gives up after this long. */
export const REQUEST_TIMEOUT_MS = 30_000

/**
 * A registry or peer that sends no bytes of a blob for this long is given up on, and the blob takes another
 * route (a slow source is fine; a silent one is not).
 */
export const STALL_TIMEOUT_MS = 30_000

/** A peer that served bytes that did not match their digest is not asked again for this long. */
export const BAD_PEER_MS = 10 * 60_000

/** The inventory record is rewritten at most this often while blobs come and go. */
export const INVENTORY_DEBOUNCE_MS = 500

/** Blob entries listed in one inventory record (records are bounded at 64 KiB). */
export const MAX_INVENTORY_BLOBS = 400

/**
 * Placement waits this long for the layer list of an image no node holds or lists (looked up once in its
 * registry, so that nodes holding some of its layers can be preferred); after it, the job is placed without it.
 * A manifest answers in milliseconds on a LAN; a registry that does not is not worth holding work for.
 */
export const IMAGE_LOOKUP_WAIT_MS = 3_000

/** A failed layer lookup is tried again after this long (meanwhile placement goes without it). */
export const IMAGE_LOOKUP_RETRY_MS = 60_000

/** Layer lists of images looked up, kept (the oldest goes first past it); one is a few hundred bytes. */
export const MAX_IMAGE_LOOKUPS = 256
