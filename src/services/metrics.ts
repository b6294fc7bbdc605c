// The services part's Prometheus metrics: services known, instances running here, placement changes made as coordinator.
import { Counter, Gauge, type Registry } from 'prom-client'

export interface ServiceMetrics {
  /** Placements written as coordinator: instances placed, balancing moves, rollout steps. */
  changes: Counter<'change'>
}

export function createServiceMetrics(
  registry: Registry,
  read: { services(): number; running(): number },
): ServiceMetrics {
  new Gauge({
    name: 'shoal_services',
    help: 'Services in the mesh, as this node knows them',
    registers: [registry],
    collect() {
      this.set(read.services())
    },
  })
  new Gauge({
    name: 'shoal_service_instances_running',
    help: 'Service instances this node runs',
    registers: [registry],
    collect() {
      this.set(read.running())
    },
  })
  const changes = new Counter({
    name: 'shoal_service_placement_changes_total',
    help: 'Instances placed, moved to balance, or rolled onto a new generation by this node as coordinator',
    labelNames: ['change'],
    registers: [registry],
  })
  return { changes }
}
