// Coordinator lease timings, chosen against Raft/Consul and the failover goal (p99 ≤ 5 s on a LAN).

/**
 * How long a lease lasts without renewal, in every observer's view, counted on its own monotonic clock
 * from when it last saw the lease change. Consul's Raft LAN profile uses a 1 s leader lease and
 * 1–2 s election timeouts (×5 by default, hence its ~5 s failover); 3 s here tolerates two lost
 * renewals in a row and keeps failover (lease + claim + one gossip hop) near 3–4 s.
 */
export const LEASE_MS = 3_000

/** The holder renews this often: three renewals per lease. */
export const RENEW_EVERY_MS = 1_000

/**
 * The holder stops acting this long before its lease could lapse in anyone's view. Observers count the
 * lease from when they received a renewal, which is after the holder sent it, so the holder always
 * stops first; the margin covers timer lateness and clock-rate drift (far below 1 %).
 */
export const HOLDER_SAFETY_MARGIN_MS = 500

/**
 * A claimant waits this long, seeing whether a competing claim for the same term wins, before it acts as
 * coordinator. Two gossip hops on a LAN take a few ms; this is ample even on a busy machine.
 */
export const CLAIM_SETTLE_MS = 300

/**
 * Claims are staggered by rank: the node ranked r claims r × this after the lease lapsed, so that when
 * views agree exactly one node claims, and when the first-ranked node is dead the next one still does.
 */
export const CLAIM_STAGGER_MS = 400

/** A node that just started waits this long for sync to bring it any existing lease before it claims. */
export const STARTUP_GRACE_MS = LEASE_MS

/** The coordinator re-evaluates its role this often. */
export const COORDINATOR_TICK_MS = 100

/**
 * A tick this much later than due means the process was stalled (SIGSTOP, a VM pause) or is behind with its
 * work (a burst of 10,000 jobs on a saturated machine): it holds off claiming for a lease, since the renewals
 * it has not seen may be waiting in its own sockets. Measured: followers 0.5–1.5 s behind during such a burst
 * claimed a lease that was being renewed all along. An idle node is late by milliseconds.
 */
export const STALL_THRESHOLD_MS = 300
