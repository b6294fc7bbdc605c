// Membership's Prometheus metrics: nodes by state, probes by outcome, declarations, refutations, record writes.
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Liveness } from './swim-view.js'

const LIVENESS_STATES: readonly Liveness[] = ['alive', 'suspect', 'dead', 'left']

export type ProbeResult = 'answered' | 'answered-indirectly' | 'unanswered' | 'inconclusive'

export interface MembershipMetrics {
  probes: Counter<'result'>
  declaredDead: Counter
  refutations: Counter
  nodeRecordWrites: Counter
}

export function createMembershipMetrics(
  registry: Registry,
  counts: () => Record<Liveness, number>,
): MembershipMetrics {
  new Gauge({
    name: 'shoal_nodes',
    help: 'Other nodes in this node’s liveness view, by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const current = counts()
      for (const state of LIVENESS_STATES) this.set({ state }, current[state])
    },
  })
  const probes = new Counter({
    name: 'shoal_probes_total',
    help: 'Probes this node made, by outcome (indirectly: only other members reached the target)',
    labelNames: ['result'],
    registers: [registry],
  })
  for (const result of ['answered', 'answered-indirectly', 'unanswered', 'inconclusive'])
    probes.inc({ result }, 0)
  return {
    probes,
    declaredDead: new Counter({
      name: 'shoal_nodes_declared_dead_total',
      help: 'Members this node declared dead (its suspicion of them ran out unrefuted)',
      registers: [registry],
    }),
    refutations: new Counter({
      name: 'shoal_refutations_total',
      help: 'Times this node raised its incarnation to refute a suspicion or a death declared about it',
      registers: [registry],
    }),
    nodeRecordWrites: new Counter({
      name: 'shoal_node_record_writes_total',
      help: 'Times this node wrote its own node record',
      registers: [registry],
    }),
  }
}
