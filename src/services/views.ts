// Service and instance views: the records of a service, as the API, CLI and web page show them.

import type { ServiceValue } from './records.js'
import type { ServiceBook } from './service-book.js'
import type { InstanceView, ServiceView, SlotVars } from './types.js'

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())

export function serviceView(
  name: string,
  service: ServiceValue,
  book: ServiceBook,
  nameOf: (peer: string) => string,
): ServiceView {
  const placement = book.placement(name)
  const { spec } = service
  const instances: InstanceView[] = []
  for (let slot = 0; slot < service.replicas; slot++) {
    const placed = placement?.slots[slot]
    const node = placed?.node ?? null
    const status = node === null ? undefined : book.report(name, slot, node)
    instances.push({
      slot,
      node,
      nodeName: node === null ? null : nameOf(node),
      state: status?.state ?? 'pending',
      placedGeneration: placed?.generation ?? 0,
      generation: status?.generation ?? null,
      commit: status?.commit ?? placed?.commit ?? null,
      restarts: status?.restarts ?? 0,
      health: status?.health ?? 'none',
      reason:
        status?.reason ??
        (placed === undefined
          ? 'waiting for the coordinator to place it'
          : node === null
            ? 'no live node fits it (drivers, constraints, resources, drained nodes)'
            : null),
      startedAt: iso(status?.startedAt ?? null),
      cpu: status?.cpu ?? 0,
      memory: status?.memory ?? 0,
      disk: status?.disk ?? 0,
    })
  }
  const applied = instances.map((instance) => instance.generation).filter((g): g is number => g !== null)
  return {
    name,
    driver: spec.driver,
    image: spec.image,
    git: spec.git,
    command: spec.command,
    env: spec.env,
    resources: {
      cpu: spec.resources.cpuMillis / 1000,
      memory: spec.resources.memory,
      disk: spec.resources.disk,
      gpu: spec.resources.gpu,
    },
    constraints: spec.constraints,
    health: spec.health,
    replicas: service.replicas,
    desired: service.desired,
    generation: service.generation,
    appliedGeneration: applied.length === 0 ? null : Math.min(...applied),
    ready: instances.filter(
      (instance) =>
        instance.state === 'running' && (instance.health === 'none' || instance.health === 'healthy'),
    ).length,
    commit: placement?.commit ?? null,
    commitError: placement?.commitError ?? null,
    initialVars: spec.vars,
    createdAt: new Date(service.createdAt).toISOString(),
    updatedAt: new Date(service.updatedAt).toISOString(),
    instances,
  }
}

/** Each slot's variables: the replicated ones of the current epoch, else the spec's initial ones. */
export function slotVars(name: string, service: ServiceValue, book: ServiceBook): SlotVars[] {
  const all: SlotVars[] = []
  for (let slot = 0; slot < service.replicas; slot++) {
    const record = book.slotVars(name, slot)
    const current = record !== undefined && record.epoch === service.varsEpoch
    all.push({
      slot,
      values: current ? record.values : service.spec.vars,
      replicated: current,
      node: current ? record.node : null,
      updatedAt: current ? iso(record.at) : null,
    })
  }
  return all
}
