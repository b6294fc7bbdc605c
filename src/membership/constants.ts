// Membership timings, chosen against memberlist/SWIM (LAN profile) and the goals in the foundation issue.

/**
 * Each node rewrites its own record this often. memberlist's LAN profile probes every 1 s; a heartbeat
 * record per second costs N small gossip messages per second per node, which stays cheap to hundreds.
 */
export const HEARTBEAT_INTERVAL_MS = 1_000

/**
 * Each node processes every other node's heartbeats, so a fixed interval costs each node O(N) messages a
 * second. Past this many a second the interval stretches with the cluster (1 s up to 20 nodes, 1.5 s at
 * 30, 5 s at 100, capped at MAX_HEARTBEAT_INTERVAL_MS), keeping per-node work flat; each node declares its
 * interval in its record and observers scale its timeouts to it.
 */
export const MAX_HEARTBEATS_PER_SECOND = 20

/** The slowest a node ever heartbeats, whatever the cluster size. */
export const MAX_HEARTBEAT_INTERVAL_MS = 10_000

/**
 * Silent this long (2.5 missed beats) and a peer is suspect. One late or lost gossip message never does it;
 * a second one in a row is worth telling the user about.
 */
export const SUSPECT_AFTER_MS = 2_500

/**
 * Silent this long and a peer is dead. memberlist declares death after a suspicion timeout of
 * 4 × log10(N) probe intervals (≈ 4-5 s at our sizes, 5-10 s in practice); we get there in 4 s of
 * silence, so a kill -9 is detected 3-4.25 s later, and a live peer can still refute suspicion with a
 * direct ping. A busy machine delays a heartbeat by milliseconds, not by the 3 s it would take.
 */
export const DEAD_AFTER_MS = 4_000

/** How often liveness is re-evaluated: detection is late by at most this. */
export const LIVENESS_TICK_MS = 250

/**
 * A liveness tick later than this beyond its interval means this process was stalled: the stall is not
 * held against peers (a node resuming from a pause must not declare everyone dead).
 */
export const STALL_GRACE_MS = 1_000

/** A direct ping to a suspect (SWIM's probe) gives up after this long. */
export const PROBE_TIMEOUT_MS = 1_000
/** Failed probes in a row before a suspect's connection is dropped (it is dropped anyway once declared dead). */
export const PROBES_BEFORE_DROP = 2

/** Disk, memory and Docker reachability are sampled this often; heartbeats carry the latest sample. */
export const RESOURCE_SAMPLE_INTERVAL_MS = 5_000
