// The reconciler on every node: runs the instances placed here, stops the rest, takes over what it left running, reports status.
import type { DockerEngine } from '../docker/index.js'
import { adoptProcess, isInstanceProcess, stopLeftoverInstance } from './adopt.js'
import { INSTANCE_HEARTBEAT_MS, STATUS_FLUSH_MS } from './constants.js'
import { type Adopted, Instance, type InstanceDeps, type InstanceTarget } from './instance.js'
import { instanceContainerName, removeUnwantedContainers } from './instance-containers.js'
import type { InstanceStatus, InstancesValue } from './records.js'
import type { ServiceBook } from './service-book.js'
import { processGroupUsage } from './usage.js'

export interface ReconcilerDeps extends Omit<InstanceDeps, 'changed'> {
  book: ServiceBook
  docker?: DockerEngine
  writeStatus(value: InstancesValue): Promise<void>
}

export class Reconciler {
  private readonly instances = new Map<string, Instance>()
  /** Slots placed here whose service is stopped: reported as such, nothing runs. */
  private readonly stopped = new Map<string, InstanceStatus>()
  /** What this node's own record listed before it restarted: exec processes to take over. */
  private leftovers = new Map<string, InstanceStatus>()
  private started = false
  private flushTimer: NodeJS.Timeout | undefined
  private heartbeat: NodeJS.Timeout | undefined
  private lastWritten = ''
  private writing: Promise<void> = Promise.resolve()

  constructor(private readonly d: ReconcilerDeps) {}

  async start(): Promise<void> {
    this.started = true
    for (const status of this.d.book.listedBy(this.d.self)) {
      if (status.pid !== null) this.leftovers.set(`${status.service}/${status.slot}`, status)
    }
    for (const name of this.placedServices()) this.reconcile(name)
    this.stopUnadopted()
    if (this.d.docker !== undefined) {
      const wanted = new Set(
        [...this.instances.values()].map((instance) => {
          const target = this.targetOf(instance.name, instance.slot)
          return instanceContainerName(
            instance.name,
            instance.slot,
            target === undefined ? 0 : generationOf(target),
            this.d.self,
          )
        }),
      )
      const removed = await removeUnwantedContainers(this.d.docker, this.d.self, wanted).catch(() => 0)
      if (removed > 0) this.d.log.info({ removed }, 'removed service containers no longer placed here')
    }
    this.heartbeat = setInterval(() => void this.beat(), INSTANCE_HEARTBEAT_MS)
    this.heartbeat.unref()
    this.flushSoon()
  }

  /** Stops every instance here (the daemon stops: the coordinator places them elsewhere once this node has left). */
  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    clearInterval(this.heartbeat)
    clearTimeout(this.flushTimer)
    await Promise.all([...this.instances.values()].map((instance) => instance.stop()))
    this.instances.clear()
    await this.writing
  }

  /** A service's record or placement changed. */
  reconcile(name: string): void {
    if (!this.started) return
    const service = this.d.book.service(name)
    const slots = this.d.book.placement(name)?.slots ?? []
    const mine = new Set<number>()
    slots.forEach((slot, index) => {
      if (slot.node === this.d.self && service !== undefined) mine.add(index)
    })
    for (const [key, instance] of this.instances) {
      if (instance.name !== name) continue
      if (mine.has(instance.slot) && service?.desired === 'running') continue
      this.instances.delete(key)
      void instance.stop().then(() => this.flushSoon())
    }
    for (const key of this.stopped.keys()) if (key.startsWith(`${name}/`)) this.stopped.delete(key)
    if (service === undefined) {
      this.flushSoon()
      return
    }
    for (const index of mine) {
      const key = `${name}/${index}`
      const target = this.targetOf(name, index)!
      if (service.desired === 'stopped') {
        this.stopped.set(key, stoppedStatus(name, index, target))
        continue
      }
      const running = this.instances.get(key)
      if (running !== undefined) running.update(target)
      else
        this.instances.set(
          key,
          new Instance(this.instanceDeps(), name, index, target, this.adopt(key, target)),
        )
    }
    this.flushSoon()
  }

  /** Instances this node runs now. */
  runningCount(): number {
    return this.instances.size
  }

  private targetOf(name: string, slot: number): InstanceTarget | undefined {
    const service = this.d.book.service(name)
    const placed = this.d.book.placement(name)?.slots[slot]
    if (service === undefined || placed === undefined) return undefined
    return { service, generation: placed.generation, commit: placed.commit }
  }

  /** The process this node left running for the slot, if it still runs what the slot asks for. */
  private adopt(key: string, target: InstanceTarget): Adopted | undefined {
    const left = this.leftovers.get(key)
    if (left === undefined || left.pid === null) return undefined
    this.leftovers.delete(key)
    const current =
      left.generation >= target.generation && (target.commit === null || left.commit === target.commit)
    if (!current || !isInstanceProcess(left.pid, key, left.generation)) {
      stopLeftoverInstance(left.pid, key, left.generation)
      return undefined
    }
    return {
      execution: adoptProcess(left.pid, key, left.generation),
      generation: left.generation,
      commit: left.commit,
      startedAt: left.startedAt,
      restarts: left.restarts,
    }
  }

  /** Processes left running for slots no longer placed here (moved while this node was away) are stopped. */
  private stopUnadopted(): void {
    for (const [key, left] of this.leftovers) {
      if (left.pid !== null && stopLeftoverInstance(left.pid, key, left.generation)) {
        this.d.log.info(
          { instance: key, pid: left.pid },
          'stopped an instance that moved while this node was away',
        )
      }
    }
    this.leftovers.clear()
  }

  private placedServices(): string[] {
    return this.d.book.names()
  }

  private instanceDeps(): InstanceDeps {
    return { ...this.d, changed: () => this.flushSoon() }
  }

  private statuses(): InstanceStatus[] {
    const all = [
      ...[...this.instances.values()].map((instance) => instance.status()),
      ...this.stopped.values(),
    ]
    return all.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : a.slot - b.slot))
  }

  private flushSoon(): void {
    if (this.flushTimer !== undefined) return
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined
      this.writing = this.writing.then(() => this.write())
    }, STATUS_FLUSH_MS)
  }

  /** Measures usage, then writes the status record (the heartbeat). */
  private async beat(): Promise<void> {
    if (this.instances.size === 0) return
    const groups = new Set<number>()
    for (const instance of this.instances.values()) {
      const pid = instance.status().pid
      if (pid !== null) groups.add(pid)
    }
    const usage = await processGroupUsage(groups).catch(() => new Map())
    await Promise.all(
      [...this.instances.values()].map((instance) => instance.measure(usage).catch(() => undefined)),
    )
    this.lastWritten = ''
    this.flushSoon()
  }

  /** Writes this node's status record if it says something new. */
  private async write(): Promise<void> {
    const instances = this.statuses()
    const json = JSON.stringify(instances)
    if (json === this.lastWritten) return
    if (instances.length === 0 && this.d.book.listedBy(this.d.self).length === 0) return
    this.lastWritten = json
    await this.d.writeStatus({ instances, at: this.d.now() }).catch((err: Error) => {
      this.lastWritten = ''
      this.d.log.warn({ err: err.message }, 'could not write instance status')
    })
  }
}

function generationOf(target: InstanceTarget): number {
  return Math.max(target.service.generation, target.generation)
}

function stoppedStatus(name: string, slot: number, target: InstanceTarget): InstanceStatus {
  return {
    service: name,
    slot,
    generation: generationOf(target),
    commit: target.commit,
    state: 'stopped',
    restarts: 0,
    health: 'none',
    reason: 'the service is stopped (shoal service start)',
    startedAt: null,
    cpu: 0,
    memory: 0,
    disk: 0,
    pid: null,
  }
}
