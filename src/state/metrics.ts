// Prometheus metrics of the replicated state: gossip in/out/dropped, sync rounds, records held.
import { Counter, Gauge, type Registry } from 'prom-client'
import { DROP_REASONS } from './validate.js'

export interface StateMetrics {
  gossipIn: Counter<never>
  gossipOut: Counter<never>
  gossipDropped: Counter<'reason'>
  recordsDropped: Counter<'reason' | 'source'>
  syncRounds: Counter<'role' | 'result'>
  syncRecords: Counter<'direction'>
  quarantined: Counter<never>
}

export function createStateMetrics(
  registry: Registry,
  countRecords: () => Map<string, number>,
  countAwaitingLease: () => number,
): StateMetrics {
  const metrics: StateMetrics = {
    gossipIn: new Counter({
      name: 'shoal_gossip_messages_in_total',
      help: 'Gossip messages received and accepted',
      registers: [registry],
    }),
    gossipOut: new Counter({
      name: 'shoal_gossip_messages_out_total',
      help: 'Gossip messages published by this node',
      registers: [registry],
    }),
    gossipDropped: new Counter({
      name: 'shoal_gossip_messages_dropped_total',
      help: 'Gossip messages refused, by the first reason found',
      labelNames: ['reason'],
      registers: [registry],
    }),
    recordsDropped: new Counter({
      name: 'shoal_records_dropped_total',
      help: 'Received records refused, by reason and by how they arrived (gossip or sync)',
      labelNames: ['reason', 'source'],
      registers: [registry],
    }),
    syncRounds: new Counter({
      name: 'shoal_sync_rounds_total',
      help: 'Anti-entropy rounds, by role (initiator or responder) and result (ok or error)',
      labelNames: ['role', 'result'],
      registers: [registry],
    }),
    syncRecords: new Counter({
      name: 'shoal_sync_records_total',
      help: 'Records exchanged by anti-entropy, by direction (sent or received)',
      labelNames: ['direction'],
      registers: [registry],
    }),
    quarantined: new Counter({
      name: 'shoal_store_quarantined_total',
      help: 'Corrupt store entries moved aside at load',
      registers: [registry],
    }),
  }
  // Every reason is present from the first scrape, so a rate() over it never starts from nothing.
  for (const role of ['initiator', 'responder']) {
    for (const result of ['ok', 'error']) metrics.syncRounds.inc({ role, result }, 0)
  }
  for (const direction of ['sent', 'received']) metrics.syncRecords.inc({ direction }, 0)
  for (const reason of DROP_REASONS) {
    metrics.gossipDropped.inc({ reason }, 0)
    for (const source of ['gossip', 'sync']) metrics.recordsDropped.inc({ reason, source }, 0)
  }
  // Held records the lease of their term never came for, or came and refused.
  for (const reason of ['unknown-term', 'stale-term'])
    metrics.recordsDropped.inc({ reason, source: 'awaiting' }, 0)
  new Gauge({
    name: 'shoal_records_awaiting_lease',
    help: 'Gossiped records of a coordinator term no known lease has yet, held until it comes (or a short while)',
    registers: [registry],
    collect() {
      this.set(countAwaitingLease())
    },
  })
  new Gauge({
    name: 'shoal_records',
    help: 'Records held in the replicated state, by kind (tombstones included)',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset()
      for (const [kind, count] of countRecords()) this.set({ kind }, count)
    },
  })
  return metrics
}
