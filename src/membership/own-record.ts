// This node's own `node/<peerId>` record: written when something in it is news, refreshed hourly, raised to refute.
import type { KindHandle } from '../state/index.js'
import {
  DISK_CHANGE_SHARE,
  NODE_REFRESH_MS,
  RESOURCE_WRITE_MIN_MS,
  USAGE_WRITE_SPACING_MS,
} from './constants.js'
import type { NodeValue, Resources } from './node-record.js'

/** What this node says of itself, but for the incarnation (which this class keeps). */
export type SelfDescription = Omit<NodeValue, 'incarnation' | 'heartbeat' | 'heartbeatMs'>

export interface OwnRecordTimings {
  /** @default RESOURCE_WRITE_MIN_MS */
  resourceWriteMinMs: number
  /** @default NODE_REFRESH_MS */
  refreshMs: number
  /** Free-disk drift is written at most every members × this. @default USAGE_WRITE_SPACING_MS */
  usageSpacingMs: number
}

export class OwnRecord {
  private incarnation = 0
  private written: NodeValue | undefined
  private writtenAt = Number.NEGATIVE_INFINITY
  private resourcesWrittenAt = Number.NEGATIVE_INFINITY
  private latest: SelfDescription | undefined
  private readonly timings: OwnRecordTimings

  constructor(
    private readonly records: KindHandle<NodeValue>,
    private readonly self: string,
    /** How many nodes the mesh has (usage writes are spaced by it). */
    private readonly members: () => number,
    timings: Partial<OwnRecordTimings> = {},
    private readonly monotonicNow: () => number = () => performance.now(),
    private readonly onWrite: () => void = () => undefined,
  ) {
    this.timings = {
      resourceWriteMinMs: timings.resourceWriteMinMs ?? RESOURCE_WRITE_MIN_MS,
      refreshMs: timings.refreshMs ?? NODE_REFRESH_MS,
      usageSpacingMs: timings.usageSpacingMs ?? USAGE_WRITE_SPACING_MS,
    }
  }

  /**
   * Starts this run above every incarnation this node ever wrote and any anyone holds a doubt at: a node that
   * restarts is never mistaken for the one that was declared dead.
   */
  begin(doubt: number | undefined): void {
    const stored = this.records.value(this.self)?.incarnation ?? 0
    this.incarnation = Math.max(stored, doubt ?? 0) + 1
  }

  currentIncarnation(): number {
    return this.incarnation
  }

  /** Writes the record if `description` carries news, or the record is due for its refresh. */
  async update(description: SelfDescription): Promise<void> {
    this.latest = description
    const now = this.monotonicNow()
    const previous = this.written
    const due =
      previous === undefined ||
      now - this.writtenAt >= this.timings.refreshMs ||
      identityChanged(previous, description) ||
      capacityChanged(previous.resources, description.resources) ||
      (now - this.resourcesWrittenAt >= this.usageSpacing() &&
        diskDrifted(previous.resources, description.resources))
    if (due) await this.write(description)
  }

  /** How long disk drift waits after the last write: longer in a larger mesh, so the mesh's total stays flat. */
  private usageSpacing(): number {
    return Math.max(this.timings.resourceWriteMinMs, this.members() * this.timings.usageSpacingMs)
  }

  /** Someone suspects this node, or declared it dead, at incarnation `doubt`: refute it with a higher one. */
  async refute(doubt: number): Promise<void> {
    if (doubt < this.incarnation || this.latest === undefined) return
    this.incarnation = doubt + 1
    await this.write(this.latest)
  }

  /** Writes the latest description again (the record was deleted, or must be written now). */
  async rewrite(): Promise<void> {
    if (this.latest !== undefined) await this.write(this.latest)
  }

  private async write(description: SelfDescription): Promise<void> {
    const value: NodeValue = { ...description, incarnation: this.incarnation }
    const now = this.monotonicNow()
    this.written = value
    this.writtenAt = now
    this.resourcesWrittenAt = now
    this.onWrite()
    await this.records.put(this.self, value)
  }
}

/** Anything but the resources that come and go: always news. */
function identityChanged(a: NodeValue, b: SelfDescription): boolean {
  return (
    a.name !== b.name ||
    a.state !== b.state ||
    a.version !== b.version ||
    a.startedAt !== b.startedAt ||
    a.coordinator !== b.coordinator ||
    a.addresses.join(' ') !== b.addresses.join(' ') ||
    JSON.stringify(a.labels) !== JSON.stringify(b.labels) ||
    a.drivers.docker !== b.drivers.docker ||
    a.drivers.exec !== b.drivers.exec ||
    a.hostNetwork !== b.hostNetwork ||
    a.drained !== b.drained
  )
}

/** What a node offers (placement reads these): news at once. */
function capacityChanged(a: Resources, b: Resources): boolean {
  return (
    a.cpus !== b.cpus ||
    a.memoryTotal !== b.memoryTotal ||
    a.diskTotal !== b.diskTotal ||
    a.gpus !== b.gpus ||
    (a.gpuModels ?? []).join('\n') !== (b.gpuModels ?? []).join('\n')
  )
}

/**
 * Free disk moved far enough to matter to placement (written at most every 30 s). Load and free memory ride along
 * in whatever record is written but are never news themselves: they are asked for live (usage-protocol.ts).
 */
function diskDrifted(a: Resources, b: Resources): boolean {
  return Math.abs(a.diskFree - b.diskFree) > DISK_CHANGE_SHARE * b.diskTotal
}
