// The services part's records as one node holds them: services, placements, each slot's reported status and variables.
import type { KindHandle, ReplicatedState, StateRecord } from '../state/index.js'
import {
  type InstanceStatus,
  type InstancesValue,
  instancesKind,
  type PlacementValue,
  placementKind,
  type ServiceValue,
  serviceKind,
  type VarsValue,
  varsId,
  varsKind,
} from './records.js'

/** A slot's status as a node reported it. */
export interface ReportedInstance {
  node: string
  status: InstanceStatus
}

/** Which service a change concerns (undefined for a node's status record: it may concern several). */
export type ServiceChange =
  | { kind: 'service' | 'placement' | 'vars'; name: string }
  | { kind: 'instances'; node: string }

export class ServiceBook {
  readonly services: KindHandle<ServiceValue>
  readonly placements: KindHandle<PlacementValue>
  readonly instances: KindHandle<InstancesValue>
  readonly vars: KindHandle<VarsValue>
  /** `<service>/<slot>` → reports by node (a slot that moved is reported by its old node until it stops there). */
  private readonly reports = new Map<string, Map<string, InstanceStatus>>()
  /** Node → the slots its last record listed. */
  private readonly byNode = new Map<string, string[]>()
  private readonly unwatch: Array<() => void> = []

  constructor(state: Pick<ReplicatedState, 'kind'>) {
    this.services = state.kind(serviceKind)
    this.placements = state.kind(placementKind)
    this.instances = state.kind(instancesKind)
    this.vars = state.kind(varsKind)
  }

  /** Indexes what is held and keeps the index current; `onChange` hears every change once indexed. */
  start(onChange: (change: ServiceChange) => void): void {
    for (const record of this.instances.list()) this.index(record)
    this.unwatch.push(
      this.services.watch(({ id }) => onChange({ kind: 'service', name: id })),
      this.placements.watch(({ id }) => onChange({ kind: 'placement', name: id })),
      this.vars.watch(({ id }) => onChange({ kind: 'vars', name: id.split('/')[0]! })),
      this.instances.watch(({ id, record, value }) => {
        const before = new Set(this.byNode.get(id) ?? [])
        if (record === undefined || value === undefined) this.drop(id)
        else this.index(record)
        onChange({ kind: 'instances', node: id })
        // Services whose slots this node listed before or lists now changed too.
        const names = new Set<string>()
        for (const slot of [...before, ...(this.byNode.get(id) ?? [])]) names.add(slot.split('/')[0]!)
        for (const name of names) onChange({ kind: 'service', name })
      }),
    )
  }

  stop(): void {
    for (const stop of this.unwatch.splice(0)) stop()
  }

  service(name: string): ServiceValue | undefined {
    return this.services.value(name)
  }

  names(): string[] {
    return this.services
      .list()
      .map((record) => this.services.idOf(record.key))
      .sort()
  }

  placement(name: string): PlacementValue | undefined {
    return this.placements.value(name)
  }

  slotVars(name: string, slot: number): VarsValue | undefined {
    return this.vars.value(varsId(name, slot))
  }

  /** The report of a slot by one node, if that node lists it. */
  report(name: string, slot: number, node: string): InstanceStatus | undefined {
    return this.reports.get(`${name}/${slot}`)?.get(node)
  }

  /** Every report of a slot, by node. */
  reportsOf(name: string, slot: number): ReadonlyMap<string, InstanceStatus> {
    return this.reports.get(`${name}/${slot}`) ?? new Map()
  }

  /** The instances a node's own record lists (this node's from before a restart, for example). */
  listedBy(node: string): InstanceStatus[] {
    return this.instances.value(node)?.instances ?? []
  }

  private index(record: StateRecord<InstancesValue>): void {
    const node = this.instances.idOf(record.key)
    this.drop(node)
    if (record.deleted || record.value === null) return
    const slots: string[] = []
    for (const status of record.value.instances) {
      const key = `${status.service}/${status.slot}`
      slots.push(key)
      const byNode = this.reports.get(key) ?? new Map<string, InstanceStatus>()
      this.reports.set(key, byNode)
      byNode.set(node, status)
    }
    this.byNode.set(node, slots)
  }

  private drop(node: string): void {
    for (const key of this.byNode.get(node) ?? []) {
      const byNode = this.reports.get(key)
      byNode?.delete(node)
      if (byNode?.size === 0) this.reports.delete(key)
    }
    this.byNode.delete(node)
  }
}
