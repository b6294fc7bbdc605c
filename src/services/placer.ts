// The coordinator's side of services: places instances (fenced by its term), follows git refs, forgets removed services.
import type { Logger } from 'pino'
import type { Coordinator } from '../coordinator/index.js'
import { type Amounts, addAmounts, capacityOf, subtractAmounts, ZERO } from '../jobs/placement.js'
import type { Membership } from '../membership/index.js'
import type { LocalWrite } from '../state/index.js'
import { PLAN_INTERVAL_MS } from './constants.js'
import type { GitSource } from './git/index.js'
import { type PlanNode, planService } from './plan.js'
import type { PlacementValue, ServiceValue } from './records.js'
import type { ServiceBook } from './service-book.js'

export interface PlacerDeps {
  book: ServiceBook
  coordinator: Pick<Coordinator, 'isHolder' | 'term' | 'writeAsCoordinator' | 'on' | 'off'>
  membership: Pick<Membership, 'aliveNodes' | 'livenessOf' | 'on' | 'off'>
  /** What jobs placed by this coordinator use on each node. */
  jobUsage(): ReadonlyMap<string, Amounts>
  /** The share (0..1) of an image's layer bytes each node holds; undefined while its layers are looked up. */
  imageBytesHeld(ref: string): ReadonlyMap<string, number> | undefined
  git: GitSource
  log: Logger
  now(): number
  /** Counts placements, balancing moves and rollout steps. */
  counted(what: 'placed' | 'balanced' | 'rolled', count: number): void
}

interface RefLookup {
  commit: string | null
  error: string | null
  /** When the next lookup is due (ms since the epoch). */
  due: number
  busy: boolean
}

export class Placer {
  private timer: NodeJS.Timeout | undefined
  private soonTimer: NodeJS.Timeout | undefined
  private running = false
  private again = false
  private started = false
  /** When each node last came alive, as this node saw it. */
  private readonly cameAlive = new Map<string, number>()
  private readonly refs = new Map<string, RefLookup>()
  private readonly onRole = (): void => this.soon()
  private readonly onPeer = (peer: string, state: string): void => {
    if (state === 'alive') this.cameAlive.set(peer, this.d.now())
    this.soon()
  }

  constructor(private readonly d: PlacerDeps) {}

  start(): void {
    this.started = true
    this.d.coordinator.on('change', this.onRole)
    this.d.membership.on('peer:state', this.onPeer)
    this.timer = setInterval(() => {
      if (this.d.coordinator.isHolder() && this.d.book.names().length > 0) this.soon()
    }, PLAN_INTERVAL_MS)
    this.timer.unref()
    this.soon()
  }

  stop(): void {
    this.started = false
    clearInterval(this.timer)
    clearTimeout(this.soonTimer)
    this.d.coordinator.off('change', this.onRole)
    this.d.membership.off('peer:state', this.onPeer)
  }

  /** Something that placement depends on changed: plan again shortly (changes in a burst make one pass). */
  soon(): void {
    if (!this.started || this.soonTimer !== undefined) return
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined
      void this.pass()
    }, 10)
  }

  private async pass(): Promise<void> {
    if (!this.d.coordinator.isHolder()) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = true
    try {
      await this.plan()
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'service placement pass failed')
    } finally {
      this.running = false
      if (this.again) {
        this.again = false
        this.soon()
      }
    }
  }

  private async plan(): Promise<void> {
    const term = this.d.coordinator.term()
    const now = this.d.now()
    const nodes = this.nodes(now)
    const { book } = this.d
    const names = new Set([
      ...book.names(),
      ...book.placements.list().map((r) => book.placements.idOf(r.key)),
    ])
    const services = new Map<string, ServiceValue>()
    for (const name of names) {
      const service = book.service(name)
      if (service !== undefined) services.set(name, service)
    }
    const used = this.usedByServices(services)
    for (const [node, amounts] of this.d.jobUsage())
      used.set(node, addAmounts(used.get(node) ?? ZERO, amounts))
    const writes: LocalWrite[] = []
    for (const name of names) {
      const service = services.get(name)
      const current = book.placement(name)
      if (service === undefined) {
        if (current !== undefined) writes.push(book.placements.removal(name, { term }))
        continue
      }
      const lookup = this.lookUpRef(name, service, now)
      const others = new Map(used)
      for (const slot of current?.slots ?? []) {
        if (slot.node === null) continue
        const left = others.get(slot.node)
        if (left !== undefined) others.set(slot.node, subtractAmounts(left, service.spec.resources))
      }
      const result = planService({
        service,
        current,
        nodes: nodes.filter((node) => this.d.membership.livenessOf(node.id) === 'alive'),
        keep: (node) => this.d.membership.livenessOf(node) === 'suspect',
        used: others,
        reported: (slot, node) => book.report(name, slot, node),
        imageShares:
          service.spec.image === null ? new Map() : (this.d.imageBytesHeld(service.spec.image) ?? new Map()),
        commit: lookup?.commit ?? null,
        now,
      })
      const next: PlacementValue = {
        slots: result.slots,
        commit: lookup?.commit ?? null,
        commitError: lookup?.error ?? null,
        at: now,
      }
      if (current !== undefined && sameExceptTime(current, next)) continue
      writes.push(book.placements.entry(name, next, { term }))
      if (result.placed > 0) this.d.counted('placed', result.placed)
      if (result.balanced) this.d.counted('balanced', 1)
      if (result.rolled) this.d.counted('rolled', 1)
      if (result.placed > 0 || result.balanced) {
        this.d.log.info(
          { service: name, placed: result.placed, balanced: result.balanced },
          'service instances placed',
        )
      }
    }
    if (writes.length > 0) await this.d.coordinator.writeAsCoordinator(term, writes)
  }

  private nodes(now: number): PlanNode[] {
    return this.d.membership.aliveNodes().map((node) => ({
      id: node.peerId,
      name: node.name,
      labels: node.labels,
      drivers: node.drivers,
      hostNetwork: node.hostNetwork ?? false,
      drained: node.drained === true,
      capacity: capacityOf(node.resources),
      aliveSince: Math.min(now, Math.max(node.startedAt, this.cameAlive.get(node.peerId) ?? 0)),
    }))
  }

  /** What every service's placed instances need, by node. */
  private usedByServices(services: ReadonlyMap<string, ServiceValue>): Map<string, Amounts> {
    const used = new Map<string, Amounts>()
    for (const [name, service] of services) {
      for (const slot of this.d.book.placement(name)?.slots ?? []) {
        if (slot.node !== null)
          used.set(slot.node, addAmounts(used.get(slot.node) ?? ZERO, service.spec.resources))
      }
    }
    return used
  }

  /** The last lookup of a git service's ref; starts the next one when it is due (the pass after it ends uses it). */
  private lookUpRef(name: string, service: ServiceValue, now: number): RefLookup | undefined {
    const git = service.spec.git
    if (git === null) {
      this.refs.delete(name)
      return undefined
    }
    let lookup = this.refs.get(name)
    if (lookup === undefined) {
      const placed = this.d.book.placement(name)
      lookup = { commit: placed?.commit ?? null, error: placed?.commitError ?? null, due: 0, busy: false }
      this.refs.set(name, lookup)
    }
    if (!lookup.busy && now >= lookup.due) {
      const current = lookup
      current.busy = true
      this.d.git
        .resolveRef(git.url, git.ref)
        .then(
          (commit) => Object.assign(current, { commit, error: null }),
          (err: Error) => Object.assign(current, { error: err.message }),
        )
        .finally(() => {
          current.busy = false
          current.due = this.d.now() + git.syncIntervalMs
          this.soon()
        })
    }
    return lookup
  }
}

function sameExceptTime(a: PlacementValue, b: PlacementValue): boolean {
  return JSON.stringify({ ...a, at: 0 }) === JSON.stringify({ ...b, at: 0 })
}
