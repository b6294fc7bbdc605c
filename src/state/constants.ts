// Limits and timings of the replicated state, with where each number comes from.

/** The one gossipsub topic every record travels on. */
export const STATE_TOPIC = '/shoal/state/1'

/** Anti-entropy stream protocol. */
export const SYNC_PROTOCOL = '/shoal/sync/1.0.0'

/** Largest signed record body. Node records are ~1 KiB; a job spec with a large env is the biggest honest record. */
export const MAX_RECORD_BYTES = 64 * 1024

/** Largest gossip message we accept or send; gossipsub's own decoder allows 4 MiB, so oversize reaches us and is counted. */
export const MAX_GOSSIP_MESSAGE_BYTES = 1024 * 1024

/**
 * Records one publisher may have this node take in by gossip: GOSSIP_RECORDS_PER_SECOND sustained, bursts of
 * GOSSIP_RECORDS_BURST. Records are batches (a record holds up to 64 KiB of job specs, assignments or run
 * reports), so an honest node's busiest moment, 10,000 jobs submitted at once, publishes a few hundred; heartbeats
 * and inventories are a few a minute. A message past the bound is dropped whole (reason `rate`), and the
 * publisher penalised when it sent the message itself; records of it that were honest still arrive by sync.
 */
export const GOSSIP_RECORDS_PER_SECOND = 200
export const GOSSIP_RECORDS_BURST = 5_000

/** Gossip messages at least this big are deflated (see envelope.ts); below it the saving is a few bytes. */
export const GOSSIP_DEFLATE_MIN_BYTES = 1024

/** Largest sync frame; record batches are cut well below it. */
export const MAX_SYNC_FRAME_BYTES = 4 * 1024 * 1024

/** Target size of one batch of records in a gossip message or sync frame. */
export const RECORD_BATCH_BYTES = 512 * 1024

/**
 * Stamps further ahead of our wall clock than this are refused. NTP keeps LAN clocks within milliseconds;
 * 10 s leaves room for a VM that was paused, while stopping a badly set clock from owning LWW (and leases).
 */
export const MAX_CLOCK_SKEW_MS = 10_000

/**
 * Largest HLC counter a record may carry (2^32 − 1). The counter orders events within one millisecond: a node
 * would need four billion writes in one of them to pass it honestly. Records beyond it are refused (`range`),
 * and a clock whose counter would pass it moves its wall on by a millisecond instead (see hlc.ts): a peer
 * cannot push everyone's counter out of the range of exact numbers, after which no one's stamps would order.
 */
export const MAX_HLC_COUNTER = 2 ** 32 - 1

/**
 * A record's term may be at most its stamp's wall time in ms (terms rise by one per election: about a billion
 * times slower). Without a ceiling, one lease claimed at `Number.MAX_SAFE_INTEGER` leaves no term to claim
 * after it, and coordination ends for good. Under it, a claim facing a term at the ceiling waits at most the
 * skew bound (the ceiling rises with time), and the term space outlasts 285,000 years of hostile claims.
 */
export const MAX_TERMS_PER_MS = 1

/** How often each node runs anti-entropy with one random connected peer (DESIGN.md: "every ~30 s"). */
export const SYNC_INTERVAL_MS = 30_000

/**
 * Records published while connected but before any peer's subscription was known are sent again after this
 * (× the attempt number), a few times: gossipsub learns subscriptions within a heartbeat (1 s).
 */
export const REPUBLISH_DELAY_MS = 500
export const REPUBLISH_ATTEMPTS = 4

/** A sync round that takes longer than this is abandoned; the next round starts over. */
export const SYNC_TIMEOUT_MS = 30_000
/**
 * A new connection's round that fails is tried again this many times, this much later times the try (while the
 * peer stays connected): after a heal, what each side wrote meanwhile crosses only by these rounds.
 */
export const CONNECT_SYNC_RETRIES = 3
export const CONNECT_SYNC_RETRY_MS = 2_000

/** Most keys one sync round may list or request: far above any real state, low enough to bound memory. */
export const MAX_SYNC_ENTRIES = 1_000_000

/** Concurrent inbound sync streams per connection. */
export const SYNC_MAX_INBOUND_STREAMS = 4

/**
 * Tombstones are kept this long so that a peer partitioned for less than a week cannot resurrect a
 * deleted key when it comes back; older tombstones are collected.
 */
export const TOMBSTONE_TTL_MS = 7 * 24 * 3_600_000

/** How often tombstones past their TTL are collected. */
export const TOMBSTONE_GC_INTERVAL_MS = 10 * 60_000

/** Number of key buckets in the sync digest: 256 keeps each bucket's key list small up to ~10^6 records. */
export const DIGEST_BUCKETS = 256

/** Domain separation for record signatures, so they can never be mistaken for any other libp2p signature. */
export const SIGNATURE_DOMAIN = 'shoal/record/v1\n'

/** LevelDB block cache (its default is 8 MiB): records are held in memory and the store is read only at start. */
export const STORE_CACHE_BYTES = 1024 * 1024

/** LevelDB memtable size (its default is 4 MiB); smaller flushes sooner, which suits small, steady writes. */
export const STORE_WRITE_BUFFER_BYTES = 1024 * 1024

/**
 * Fenced records gossiped before the lease of their term (a lease and its work in one gossipsub RPC are validated
 * before either is delivered) wait this long for it, at most this many and this many bytes; then they are
 * dropped, and anti-entropy brings them with their lease.
 */
export const AWAITING_LEASE_MS = 10_000
export const AWAITING_LEASE_MAX_RECORDS = 512
export const AWAITING_LEASE_MAX_BYTES = 4 * 1024 * 1024
