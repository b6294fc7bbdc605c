// Job service limits and timings, with where each number comes from.

/** Stream protocol that serves a job's log from the node that ran it. */
export const LOGS_PROTOCOL = '/shoal/job-logs/1.0.0'

/** Largest frame on the log protocol; log chunks are cut well below it. */
export const MAX_LOG_FRAME_BYTES = 256 * 1024

/** Most specs one submission may carry: ten times the 10,000, and a bounded request body. */
export const MAX_JOBS_PER_SUBMISSION = 100_000

/** Largest POST /v1/jobs body: 100,000 specs of ~300 bytes; a 100 MB env is refused before it is parsed. */
export const MAX_SUBMISSION_BYTES = 32 * 1024 * 1024

/** A job spec must fit in one record (state's MAX_RECORD_BYTES is 64 KiB) with room for the signature. */
export const MAX_JOB_SPEC_BYTES = 56 * 1024

/**
 * Specs are checked and written to the state in slices of this many (~100 ms each here), yielding between
 * slices so the daemon stays responsive and keeps renewing its lease while it takes in 10,000.
 */
export const SUBMIT_BATCH = 250

/**
 * CPU a job asks for when it says nothing: a tenth of a core, like Nomad's 100 MHz default. A full core would
 * cap a 2-core node at two jobs however light they are; jobs that need more say so with --cpu.
 */
export const DEFAULT_CPU_MILLIS = 100

/** First retry waits this long, doubling per failure up to MAX_BACKOFF_MS (the `always` policy too). */
export const DEFAULT_BACKOFF_MS = 1_000
export const MAX_BACKOFF_MS = 60_000

/** An `always` service that ran at least this long before exiting restarts without backoff growth. */
export const SERVICE_HEALTHY_RUN_MS = 60_000

/** Most retries a spec may ask for. */
export const MAX_RETRIES = 100

/**
 * The scheduler runs a pass this soon after a change (coalescing bursts of records into one batch of
 * placements), and at least this often while work waits for a retry time or capacity.
 */
export const SCHEDULE_DEBOUNCE_MS = 5
export const SCHEDULE_TICK_MS = 1_000

/**
 * After a pass that wrote assignments, the next waits this long from its start: while work streams in, a pass
 * places tens of jobs per node in one record instead of one or two (nodes hold QUEUE_AHEAD_MS of work queued
 * ahead, so they do not run dry meanwhile). A change after a quiet spell is still placed within the debounce.
 */
export const SCHEDULE_BUSY_GAP_MS = 100

/**
 * After a pass that wrote at least SCHEDULE_FLOOD_WRITES assignments, the next waits SCHEDULE_FLOOD_GAP_MS
 * instead: a flood of short jobs is placed in half as many records, while a burst of a few tens is placed as
 * promptly as before (a fixed longer gap made a burst of 20 jobs show running ~250 ms later, measured).
 */
export const SCHEDULE_FLOOD_WRITES = 64
export const SCHEDULE_FLOOD_GAP_MS = 200

/**
 * A pass writes notes (why a waiting job cannot be placed anywhere: its reason, and nothing else, changed) at
 * most this often; a note found sooner is written by a later pass (one runs every SCHEDULE_TICK_MS while work
 * waits). Placements, retries and ends never wait for it. A note is advice to whoever reads the job; one per
 * submission, each a record every node checks and stores, was half the gossip of a trickle of such jobs.
 */
export const SCHEDULE_NOTE_GAP_MS = 1_000

/** While a job waits on its image's layer lookup (layers' IMAGE_LOOKUP_WAIT_MS at most), passes come this often. */
export const IMAGE_LOOKUP_RECHECK_MS = 100

/**
 * A new coordinator places nothing for this long after taking the role: placements its predecessor made just
 * before (still in flight as gossip) arrive first, so they count against their nodes and nothing is
 * over-committed. Gossip takes milliseconds; a loaded daemon a few hundred.
 */
export const HANDOVER_SETTLE_MS = 1_000

/** Assignment batch records written in one state write (each up to ~48 KiB, a few hundred entries). */
export const ASSIGNMENT_RECORDS_PER_WRITE = 16

/** Most jobs a scheduling pass looks at (their records changed); the rest wait for the next pass. */
export const CLASSIFY_SLICE = 2_000

/**
 * A job assigned to a live node that has not reported it running after this long is moved (its node missed
 * the assignment, e.g. it restarted between the write and the gossip): at-least-once, never stuck `assigned`.
 */
export const START_TIMEOUT_MS = 30_000

/**
 * While every node is full and jobs are short (attempts end within QUEUE_AHEAD_MAX_RUN_MS on average), the
 * coordinator also places about QUEUE_AHEAD_MS of work beyond each node's capacity: it waits on the node (see
 * admission.ts) and starts the moment a slot frees there, instead of after a run report's trip to the
 * coordinator and an assignment's trip back. A node's extra is at most QUEUE_AHEAD_MAX_SHARE of its capacity.
 * Longer jobs are not queued ahead: one could wait behind a long job while another node is free.
 */
export const QUEUE_AHEAD_MAX_RUN_MS = 1_000
export const QUEUE_AHEAD_MS = 500
export const QUEUE_AHEAD_MAX_SHARE = 4

/** The runner writes a report this soon after it is due (coalescing the reports of that moment into one record). */
export const RUN_FLUSH_MS = 20

/**
 * Under load, run records are written at most this often: every record costs each node a signature check, a
 * state write and a gossip message, so a busy node's flush should carry tens of reports, not one or two. A
 * report after a quiet spell still goes out within RUN_FLUSH_MS; under load an end is seen this much later.
 */
export const RUN_BUSY_GAP_MS = 200

/** After a write of at least RUN_FLOOD_REPORTS reports, the next waits RUN_FLOOD_GAP_MS (see SCHEDULE_FLOOD_WRITES). */
export const RUN_FLOOD_REPORTS = 32
export const RUN_FLOOD_GAP_MS = 400

/**
 * A job is reported `running` only once it has run this long: one that ends sooner writes one run record (its
 * end), not two, which is a quarter of the records of a short job. Its start time is still exact; the view
 * shows `assigned` for this long. A daemon killed in this window leaves no pid behind, so its restart cannot
 * stop that copy: the job may run twice, which the at-least-once guarantee allows.
 */
export const RUNNING_REPORT_DELAY_MS = 250

/** After SIGTERM, a job's process group (or container) gets this long before SIGKILL. */
export const STOP_GRACE_MS = 5_000

/**
 * A job attempt's log keeps this much output by default (`--job-log-max`), then says it was cut and drops the
 * rest: a job printing in a loop must not fill the node's disk. 64 MiB is far more than a person reads.
 */
export const DEFAULT_JOB_LOG_MAX_BYTES = 64 * 1024 ** 2

/**
 * After an exec job's process group is gone, its output pipes are waited on this long: only a process that left
 * the group (setsid) still holds one, and its output is not the job's to wait for.
 */
export const LOG_CLOSE_GRACE_MS = 2_000

/**
 * After a container exits, its log stream is read to its end for at most this long. The engine ends the stream
 * itself once it has sent a stopped container's log, but sending megabytes of it takes seconds on a busy node
 * (2 s cut a 3 MB log short in CI); the limit only guards against a stream that never ends.
 */
export const CONTAINER_LOG_DRAIN_MS = 30_000

/** Followers of a log poll its file this often while the job runs. */
export const LOG_FOLLOW_POLL_MS = 200

/**
 * `job wait` on one node for jobs just submitted on another: an id not known here yet is given this long (or the wait's timeout, if shorter) to
 * arrive by gossip (milliseconds normally; the next anti-entropy round at worst) before it is unknown.
 */
export const ARRIVAL_WAIT_MS = 35_000

/** Finished jobs are kept this long by default (`--job-retention`), then their records are deleted. */
export const DEFAULT_JOB_RETENTION_MS = 24 * 3_600_000

/**
 * Run reports of a job's last this many attempts are kept (`job logs --attempt N` finds its node through them),
 * and their logs on the nodes that ran them; older ones go while the job lives on, so a `--restart always`
 * service restarted for months does not pile them up.
 */
export const RUN_ATTEMPTS_KEPT = 5

/** How often the coordinator looks for finished jobs past their retention. */
export const COLLECT_INTERVAL_MS = 60_000

/** Most jobs collected in one round (each is three or four tombstones). */
export const COLLECT_SLICE = 1_000

/** The exec driver's spawning helper leaves after this long with no job process left (see drivers/spawner.ts). */
export const SPAWNER_IDLE_MS = 60_000
