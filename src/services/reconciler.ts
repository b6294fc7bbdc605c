// The reconciler on every node: runs the instances placed here, stops the rest, takes over what it left running, reports status.
import { rm } from 'node:fs/promises'
import type { DockerEngine } from '../docker/index.js'
import { adoptProcess, isInstanceProcess, stopLeftoverInstance } from './adopt.js'
import { INSTANCE_HEARTBEAT_MS, STATUS_FLUSH_MS, STATUS_REFRESH_MS } from './constants.js'
import { type Adopted, Instance, type InstanceDeps, type InstanceTarget, serviceDirOf } from './instance.js'
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
  /** What this node's own record listed before it restarted: exec processes to take over. */
  private leftovers = new Map<string, InstanceStatus>()
  private started = false
  private flushTimer: NodeJS.Timeout | undefined
  private heartbeat: NodeJS.Timeout | undefined
  /** The last status record written: its states (usage left out), its instances, when. */
  private lastStates = ''
  private lastWritten: InstanceStatus[] = []
  private lastWrittenAt = 0
  private writing: Promise<void> = Promise.resolve()

  constructor(private readonly d: ReconcilerDeps) {}

  async start(): Promise<void> {
    this.started = true
    for (const status of this.d.book.listedBy(this.d.self)) {
      if (status.pid !== null) this.leftovers.set(`${status.service}/${status.slot}`, status)
    }
    for (const name of this.d.book.names()) this.reconcile(name)
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
    const stopping: Array<Promise<void>> = []
    for (const [key, instance] of this.instances) {
      if (instance.name !== name) continue
      if (mine.has(instance.slot) && service?.desired === 'running') continue
      this.instances.delete(key)
      stopping.push(instance.stop().then(() => this.flushSoon()))
    }
    if (service === undefined) {
      // Removed: its instances' directories (checkouts, variables, logs) go once they have stopped.
      void Promise.all(stopping)
        .then(() => {
          if (this.d.book.service(name) === undefined)
            return rm(serviceDirOf(this.d.dataDir, name), { recursive: true, force: true })
        })
        .catch((err: Error) =>
          this.d.log.warn({ service: name, err: err.message }, 'could not remove a service’s directory'),
        )
      this.flushSoon()
      return
    }
    for (const index of mine) {
      const key = `${name}/${index}`
      const target = this.targetOf(name, index)!
      if (service.desired === 'stopped') continue
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

  private instanceDeps(): InstanceDeps {
    return { ...this.d, changed: () => this.flushSoon() }
  }

  private statuses(): InstanceStatus[] {
    const all = [...this.instances.values()].map((instance) => instance.status())
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
    this.flushSoon()
  }

  /**
   * Writes this node's status record if it says something new: a change of state (at once), usage that moved
   * past USAGE_NEWS (measured on the heartbeat), or STATUS_REFRESH_MS since the last write. An idle node whose
   * instances run steadily writes once a minute, not once a heartbeat.
   */
  private async write(): Promise<void> {
    const instances = this.statuses()
    if (instances.length === 0 && this.d.book.listedBy(this.d.self).length === 0) return
    const states = JSON.stringify(instances.map(withoutUsage))
    const now = this.d.now()
    const news =
      states !== this.lastStates ||
      now - this.lastWrittenAt >= STATUS_REFRESH_MS ||
      instances.some((instance, i) => usageMoved(this.lastWritten[i], instance))
    if (!news) return
    this.lastStates = states
    this.lastWritten = instances
    this.lastWrittenAt = now
    await this.d.writeStatus({ instances, at: now }).catch((err: Error) => {
      this.lastStates = ''
      this.d.log.warn({ err: err.message }, 'could not write instance status')
    })
  }
}

function withoutUsage(status: InstanceStatus): Omit<InstanceStatus, 'cpu' | 'memory' | 'disk'> {
  const { cpu: _cpu, memory: _memory, disk: _disk, ...rest } = status
  return rest
}

/** Usage worth telling the mesh about: a tenth of a core, or a tenth of the memory or disk (and at least 1 MiB). */
function usageMoved(before: InstanceStatus | undefined, after: InstanceStatus): boolean {
  if (before === undefined) return true
  const moved = (a: number, b: number): boolean => Math.abs(a - b) >= Math.max(2 ** 20, 0.1 * Math.max(a, b))
  return (
    Math.abs(before.cpu - after.cpu) >= 0.1 ||
    moved(before.memory, after.memory) ||
    moved(before.disk, after.disk)
  )
}

function generationOf(target: InstanceTarget): number {
  return Math.max(target.service.generation, target.generation)
}
