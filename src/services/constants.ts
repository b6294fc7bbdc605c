// Service limits and timings, with where each number comes from.

/** Stream protocol that serves an instance's log from the node that runs it. */
export const SERVICE_LOGS_PROTOCOL = '/shoal/service-logs/1.0.0'

/** Most instances one service may ask for (a placement record lists them all, well inside 64 KiB). */
export const MAX_REPLICAS = 1_000

/** A service record (spec, desired state) must fit in one record with room for the rest and the signature. */
export const MAX_SERVICE_SPEC_BYTES = 48 * 1024

/**
 * Persistent variables of one instance, as JSON: 16 KiB. They are replicated to every node on each change,
 * so they are for counters, cursors and small settings, not data (that belongs in a volume or a store).
 */
export const MAX_VARS_BYTES = 16 * 1024

/** The node looks at each instance's variables file this often (and when the instance exits). */
export const VARS_POLL_MS = 2_000

/** Git refs are looked up this often unless the spec says otherwise (`--sync-interval`). */
export const DEFAULT_SYNC_INTERVAL_MS = 60_000
/** No faster than this: each lookup is a network round trip to the remote from the coordinator. */
export const MIN_SYNC_INTERVAL_MS = 1_000

export const DEFAULT_HEALTH_INTERVAL_MS = 10_000
export const DEFAULT_HEALTH_TIMEOUT_MS = 5_000
/** Failed checks in a row that make an instance unhealthy (and restart it). */
export const DEFAULT_HEALTH_RETRIES = 3

/** Usage of instances is measured this often; the status record carries it when it moved (see the reconciler). */
export const INSTANCE_HEARTBEAT_MS = 10_000
/** Instance status is written at once on a change of state, and at least this often while instances run. */
export const STATUS_REFRESH_MS = 60_000
/** Changes within this window go out in one status record. */
export const STATUS_FLUSH_MS = 50

/** An instance that exits restarts after a backoff that starts here and doubles... */
export const RESTART_BACKOFF_MS = 1_000
/** ...up to here; */
export const MAX_RESTART_BACKOFF_MS = 30_000
/** ...and starts over once an instance has run this long. */
export const STABLE_RUN_MS = 30_000

/**
 * A slot changed by the coordinator (moved, or rolled to a new generation) blocks the next change of the same
 * service until its node reports it running at that generation, or until this long has passed (a new
 * generation that never comes up must not stall a rollout that would fix it).
 */
export const SLOT_SETTLE_TIMEOUT_MS = 30_000

/** A node must be alive this long before balancing moves instances to it (a flapping node gets none). */
export const BALANCE_NODE_AGE_MS = 5_000

/** The coordinator plans again at least this often (settle timeouts, node ages). */
export const PLAN_INTERVAL_MS = 1_000
