// Coordinator timings, chosen against Raft/Consul and the failover goal (p99 ≤ 5 s on a LAN).

/**
 * The lease is not renewed: it holds as long as its holder is alive (or suspect) in the observer's liveness view
 * (SWIM probing, see membership), and lapses when the holder is declared dead, leaves, or turns out to run a clock
 * its peers refuse. Failover after kill -9 is then detection (≈ 2–3 s) + claim stagger + settle: ≈ 2.5–4 s. The
 * record still says how long observers used to time a lease out, for daemons that read it (older versions).
 */
export const LEASE_MS = 3_000

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
export const STARTUP_GRACE_MS = 3_000

/**
 * A holder declared dead that this node itself heard from this recently keeps its lease here for now: the verdict
 * came from others, and after a partition heals each side's verdicts about the other arrive before the
 * refutations do (about a second). A holder that really died was last heard from longer ago than this when it is
 * declared (its suspicion alone lasts SUSPICION_MIN_MS, 2 s), so failover does not wait for it.
 */
export const RECENTLY_HEARD_MS = 2_000

/**
 * A new lease (a term this node had not seen) whose holder this node holds dead gets this long before this node
 * may claim over it: the holder wrote it, so it was alive after that verdict (the other side of a heal).
 */
export const NEW_LEASE_GRACE_MS = 2_000

/** The coordinator re-evaluates its role this often. */
export const COORDINATOR_TICK_MS = 250

/**
 * A tick this much later than due means the process was stalled (SIGSTOP, a VM pause) or is behind with its
 * work (a burst of 10,000 jobs on a saturated machine): it holds off claiming for QUIET_AFTER_STALL_MS, since
 * news it has not read (a lease, a refutation) may be waiting in its own sockets. Measured: followers 0.5–1.5 s
 * behind during such a burst claimed a lease that was held all along. An idle node is late by milliseconds.
 */
export const STALL_THRESHOLD_MS = 300

/**
 * A holder stalled this long may have been declared dead meanwhile (a probe timeout plus the shortest suspicion
 * is ≥ 2.5 s): it stops acting for QUIET_AFTER_STALL_MS, until the news queued in its sockets has been read (a
 * successor's lease, which fences off anything it would write). Shorter stalls (a GC pause, a busy burst) cannot
 * have cost it the role, and it goes on.
 */
export const HOLDER_STALL_THRESHOLD_MS = 1_000

/** How long a stalled node holds off (claims, and a holder's acts): the news in its sockets is read in that time. */
export const QUIET_AFTER_STALL_MS = 1_000

/**
 * A lease carries the terms before it (term, holder, claim stamp), this many: the fence bounds an old term's work
 * by the claim of the term that followed it, not only by the newest claim, so a node that learns a later lease
 * without the one between still refuses what a superseded coordinator wrote after its successor began.
 */
export const LEASE_HISTORY_TERMS = 16
