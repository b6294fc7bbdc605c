// The job service's Prometheus metrics: placements and scheduling time (coordinator), starts and ends (runner).
import { Counter, Gauge, type Registry } from 'prom-client'

export interface JobMetrics {
  /** Assignments written by this node as coordinator. */
  placements: Counter
  /** Time spent in scheduling passes (CPU on the coordinator's event loop). */
  passSeconds: Counter
  /** Jobs moved off a node that was lost, or that never started them. */
  moved: Counter<'reason'>
  started: Counter<'driver'>
  /** Attempts assigned here that had to wait for room (queued ahead, or placements that overlapped). */
  waitedForRoom: Counter
  finished: Counter<'state'>
  /** Finished jobs whose records this coordinator deleted after their retention. */
  collected: Counter
}

export function createJobMetrics(
  registry: Registry,
  read: { running(): number; waiting(): number },
): JobMetrics {
  new Gauge({
    name: 'shoal_jobs_running',
    help: 'Job attempts running on this node',
    registers: [registry],
    collect() {
      this.set(read.running())
    },
  })
  new Gauge({
    name: 'shoal_scheduler_waiting_jobs',
    help: 'Jobs waiting for placement (on the coordinator; 0 elsewhere)',
    registers: [registry],
    collect() {
      this.set(read.waiting())
    },
  })
  const moved = new Counter({
    name: 'shoal_scheduler_moved_jobs_total',
    help: 'Jobs this coordinator sent back to pending because their node was lost or never started them',
    labelNames: ['reason'],
    registers: [registry],
  })
  for (const reason of ['node-lost', 'not-started']) moved.inc({ reason }, 0)
  return {
    placements: new Counter({
      name: 'shoal_scheduler_placements_total',
      help: 'Job attempts this node placed as coordinator',
      registers: [registry],
    }),
    passSeconds: new Counter({
      name: 'shoal_scheduler_pass_seconds_total',
      help: 'Seconds spent in scheduling passes',
      registers: [registry],
    }),
    moved,
    started: new Counter({
      name: 'shoal_jobs_started_total',
      help: 'Job attempts started on this node, by driver',
      labelNames: ['driver'],
      registers: [registry],
    }),
    waitedForRoom: new Counter({
      name: 'shoal_jobs_waited_for_room_total',
      help: 'Job attempts assigned to this node that waited there for room (queued ahead, or placements that overlapped)',
      registers: [registry],
    }),
    finished: new Counter({
      name: 'shoal_jobs_finished_total',
      help: 'Job attempts that ended on this node, by how they ended',
      labelNames: ['state'],
      registers: [registry],
    }),
    collected: new Counter({
      name: 'shoal_jobs_collected_total',
      help: 'Finished jobs whose records this node deleted, as coordinator, after their retention',
      registers: [registry],
    }),
  }
}
