// On the coordinator only: removes the records of nodes gone (dead or left) for longer than a day, by default.
import type { Logger } from 'pino'
import { type Membership, membershipConstants } from '../membership/index.js'
import type { LocalWrite, ReplicatedState } from '../state/index.js'
import type { Coordinator } from './coordinator.js'

/** A part that keeps records about each node (membership: its record and opinions; layers: inventory, claims). */
export interface NodeRecordOwner {
  /** Deletions of every record the part keeps about `peer`, a node gone for good. */
  removalsFor(peer: string): LocalWrite[]
}

export interface NodeCollectorComponents {
  state: Pick<ReplicatedState, 'write'>
  coordinator: Pick<Coordinator, 'isHolder'>
  membership: Pick<Membership, 'goneLongerThan' | 'nameOf'>
  owners: readonly NodeRecordOwner[]
  logger: Logger
}

export interface NodeCollectorInit {
  /** Records of nodes dead or left for longer than this are removed (`--node-gc-after`). @default NODE_GC_AFTER_MS */
  afterMs?: number
  /** @default NODE_GC_INTERVAL_MS */
  intervalMs?: number
}

/**
 * Deleting is writing tombstones, which replicate like any record (a node that was away learns of the deletion at
 * its next sync) and are dropped after their own lifetime. Only the coordinator collects, so each record is deleted
 * once, not once per node. A node that comes back after its records were collected writes them again.
 */
export class NodeCollector {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<unknown> | undefined
  private readonly afterMs: number
  private readonly intervalMs: number
  private readonly log: Logger

  constructor(
    private readonly c: NodeCollectorComponents,
    init: NodeCollectorInit = {},
  ) {
    this.afterMs = init.afterMs ?? membershipConstants.NODE_GC_AFTER_MS
    this.intervalMs = init.intervalMs ?? membershipConstants.NODE_GC_INTERVAL_MS
    this.log = c.logger.child({ name: 'shoal:coordinator:node-collector' })
  }

  async start(): Promise<void> {
    if (this.timer !== undefined || this.afterMs <= 0) return
    this.timer = setInterval(() => {
      this.running ??= this.collect()
        .catch((err: Error) => this.log.error({ err: err.message }, 'collecting gone nodes failed'))
        .finally(() => {
          this.running = undefined
        })
    }, this.intervalMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.running
  }

  /** One round: deletes every record of the nodes gone long enough; returns how many nodes. */
  async collect(): Promise<number> {
    if (!this.c.coordinator.isHolder()) return 0
    const gone = this.c.membership.goneLongerThan(this.afterMs)
    for (const peer of gone) {
      const writes = this.c.owners.flatMap((owner) => owner.removalsFor(peer))
      this.log.info(
        { peer, name: this.c.membership.nameOf(peer), records: writes.length },
        'removing the records of a node gone for good',
      )
      await this.c.state.write(writes)
    }
    return gone.length
  }
}
