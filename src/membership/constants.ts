// Membership timings: SWIM-style probing (memberlist's LAN profile and Lifeguard are the anchors), node record writes.

/** The probe protocol: direct probes, and indirect probes asked of other members. */
export const PROBE_PROTOCOL = '/shoal/probe/1.0.0'

/**
 * Each node probes one member per period, in a shuffled round robin, so every member is probed by someone about
 * once a period and by each node within N periods whatever N is: each node's steady work is flat as the mesh
 * grows. memberlist's LAN profile probes every 1 s.
 */
export const PROBE_INTERVAL_MS = 1_000

/**
 * A direct probe unanswered after this long fails, times the local health multiplier. memberlist's LAN profile uses
 * 500 ms for dedicated machines; 1 s leaves room for a machine that runs many daemons (a test bench, a busy host).
 * A dead process is not timed out: its peer's kernel refuses the connection at once.
 */
export const PROBE_TIMEOUT_MS = 1_000

/** After a failed direct probe, this many other members are asked to probe the target (memberlist: 3). */
export const INDIRECT_CHECKS = 3

/**
 * A suspect not refuted within the suspicion timeout is declared dead. Lifeguard scales the timeout down from
 * MAX to MIN as other members independently confirm the suspicion (log of confirmations over the expected
 * number): a kill -9 seen by every peer at once is confirmed at once and declared in MIN, a node only one peer
 * has doubts about gets MAX to refute. 2 s keeps detection after kill -9 near 2–3 s (goal: ≤ 5 s p99); a live
 * node refutes in one gossip hop, milliseconds on a LAN, seconds on an overloaded machine.
 */
export const SUSPICION_MIN_MS = 2_000
export const SUSPICION_MAX_MS = 6_000

/**
 * Lifeguard's local health multiplier (memberlist's "awareness"): each probe of this node's that times out, and each
 * suspicion it has to refute, raises it by one; each probe answered lowers it. A node whose probes keep timing out
 * is likelier to be the slow one (a busy CPU, a bad link) than its peers: it stretches its probe timeout and probe
 * interval by 1 + the multiplier, up to this.
 */
export const MAX_LOCAL_HEALTH = 8

/**
 * A probe of a member this node has no connection to dials it first; the dial may take this long (a TCP, pnet,
 * Noise and yamux handshake on a busy machine) and is not held to the probe timeout, which times the answer.
 */
export const PROBE_DIAL_TIMEOUT_MS = 5_000

/**
 * A suspect is probed again (directly only) this often: its answer clears this node's suspicion, and a second
 * failure is what makes this node tell the others it suspects it, so one late answer costs the mesh nothing.
 */
export const SUSPECT_REPROBE_MS = 1_000

/**
 * A timer that fires this much later than due means this process was stalled (SIGSTOP, a VM pause, a blocked
 * event loop): a probe that timed out meanwhile says nothing about the peer, so it is not held against it.
 */
export const STALL_GRACE_MS = 300

/** How often the suspicion timers are looked at: a declaration is late by at most this. */
export const LIVENESS_TICK_MS = 500

/**
 * This node's record is written when something in it changes; free disk (placement reads it) is written at most
 * this often, and only past a threshold (DISK_CHANGE_SHARE), so an idle mesh is quiet.
 */
export const RESOURCE_WRITE_MIN_MS = 30_000

/**
 * Free-disk writes reach every node, so what each node receives of them is the sum of everyone's: the mesh as a
 * whole spends about one per this long. Each node spaces its own by at least members × this (and
 * RESOURCE_WRITE_MIN_MS), so the rate every node receives stays flat as the mesh grows (Consul scales its
 * anti-entropy interval with the cluster's size for the same reason). Capacity, labels, drivers and addresses
 * are still news at once.
 */
export const USAGE_WRITE_SPACING_MS = 3_000

/**
 * Free disk moving by this share of the total is news (placement checks a job's disk against it). Load and free
 * memory are never news: they move all the time on a busy machine, and written to every node they made the whole
 * of an idle mesh's traffic. Whoever shows them asks the node (USAGE_PROTOCOL).
 */
export const DISK_CHANGE_SHARE = 0.1

/** The usage protocol: a node's load, free memory and free disk now, asked by whoever shows them. */
export const USAGE_PROTOCOL = '/shoal/usage/1.0.0'

/**
 * A usage question unanswered after this long (dial included) falls back to the figures in the node's record:
 * `node list` waits for its slowest member at most this long. A live member answers in milliseconds over the
 * connection it already has; a stalled one (suspected, not yet declared) must not hold every view of it for long.
 */
export const USAGE_ASK_TIMEOUT_MS = 500

/**
 * Unchanged, a node still rewrites its record this often, so that a record older than the collection age
 * (NODE_GC_AFTER_MS) always means its node is gone: one record per node per hour is nothing at any size.
 */
export const NODE_REFRESH_MS = 3_600_000

/** Records of nodes dead or left for longer than this are removed by the coordinator (`--node-gc-after`). */
export const NODE_GC_AFTER_MS = 24 * 3_600_000

/** How often the coordinator looks for records of nodes gone long enough to remove. */
export const NODE_GC_INTERVAL_MS = 10 * 60_000

/** Disk, memory and Docker reachability are sampled this often (writes follow only on news). */
export const RESOURCE_SAMPLE_INTERVAL_MS = 5_000

/** Peers' clock offsets older than this are ignored when judging whether this node's clock is ahead. */
export const CLOCK_SAMPLE_TTL_MS = 30_000

/** A peer suspected or declared dead by this many observers at most is listed in one liveness record. */
export const MAX_LIVENESS_ENTRIES = 1_000
