// The coordinator's Prometheus metrics: term, role, claims, elections won, step-downs and holder changes.
import { Counter, Gauge, type Registry } from 'prom-client'

export type StepDownReason = 'lapsed' | 'superseded' | 'clock-ahead' | 'released'

export interface CoordinatorMetrics {
  claims: Counter
  elections: Counter
  stepDowns: Counter<'reason'>
  changes: Counter
}

export function createCoordinatorMetrics(
  registry: Registry,
  read: { term(): number; isHolder(): boolean },
): CoordinatorMetrics {
  new Gauge({
    name: 'shoal_coordinator_term',
    help: 'Newest coordinator term this node has seen',
    registers: [registry],
    collect() {
      this.set(read.term())
    },
  })
  new Gauge({
    name: 'shoal_coordinator_is_holder',
    help: '1 while this node acts as coordinator',
    registers: [registry],
    collect() {
      this.set(read.isHolder() ? 1 : 0)
    },
  })
  const stepDowns = new Counter({
    name: 'shoal_coordinator_step_downs_total',
    help: 'Times this node stopped acting as coordinator, by reason',
    labelNames: ['reason'],
    registers: [registry],
  })
  for (const reason of ['lapsed', 'superseded', 'clock-ahead', 'released']) stepDowns.inc({ reason }, 0)
  return {
    claims: new Counter({
      name: 'shoal_coordinator_claims_total',
      help: 'Lease claims this node made',
      registers: [registry],
    }),
    elections: new Counter({
      name: 'shoal_coordinator_elections_total',
      help: 'Claims that made this node coordinator',
      registers: [registry],
    }),
    stepDowns,
    changes: new Counter({
      name: 'shoal_coordinator_changes_total',
      help: 'Times this node saw the coordinator (holder or term) change',
      registers: [registry],
    }),
  }
}
