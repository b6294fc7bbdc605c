// Placement of one service's instances as a pure function: fail over, place, roll one slot, balance one slot.
import { type Amounts, addAmounts, type Candidate, fits, subtractAmounts, ZERO } from '../jobs/placement.js'
import { policyRefusal } from '../jobs/policy.js'
import { BALANCE_NODE_AGE_MS, SLOT_SETTLE_TIMEOUT_MS } from './constants.js'
import type { InstanceStatus, PlacementValue, ServiceValue, Slot } from './records.js'

export interface PlanNode extends Candidate {
  /** When this coordinator last saw it come alive (ms since the epoch): young nodes get no balancing moves. */
  aliveSince: number
}

export interface PlanInput {
  service: ServiceValue
  current: PlacementValue | undefined
  /** Live nodes (dead and left ones are absent). */
  nodes: readonly PlanNode[]
  /** A node not among them whose slots stay where they are for now (suspected, not yet declared dead). */
  keep(node: string): boolean
  /** What each node has placed on it already, by everything but this service (other services, jobs). */
  used: ReadonlyMap<string, Amounts>
  /** The status the slot's placed node reports for it. */
  reported(slot: number, node: string): InstanceStatus | undefined
  /** The share of the image's layer bytes each node holds (docker): more is preferred among equals. */
  imageShares: ReadonlyMap<string, number>
  /** The commit the git ref points at (git sources); null otherwise or before the first lookup. */
  commit: string | null
  now: number
}

/** What changed, for logs and metrics. */
export interface PlanResult {
  slots: Slot[]
  /** Slots placed on a node (new, or off a node that died, left, drained or stopped fitting). */
  placed: number
  /** A slot moved to balance the spread. */
  balanced: boolean
  /** A slot rolled onto the service's generation or commit. */
  rolled: boolean
}

/**
 * The next placement of a service. Slots off a node that is gone (or drained, or no longer matching) and new
 * slots are placed at once, spread across nodes. Otherwise one change at a time, and only once every slot has
 * settled (runs what it was given, or SLOT_SETTLE_TIMEOUT_MS passed): roll the lowest slot onto the service's
 * generation and commit, else move one slot from the node holding most of the service to the one holding
 * fewest, when they differ by two or more (each such move lowers the spread's sum of squares, so moves end).
 */
export function planService(input: PlanInput): PlanResult {
  const { service, now } = input
  const target = { generation: service.generation, commit: input.commit }
  const slots = (input.current?.slots ?? []).slice(0, service.replicas).map((slot) => ({ ...slot }))
  while (slots.length < service.replicas) slots.push({ node: null, ...target, since: now })
  const result: PlanResult = { slots, placed: 0, balanced: false, rolled: false }
  // Stopped: no slot holds a node (nor its resources); `start` places them afresh, variables follow the slots.
  if (service.desired === 'stopped') {
    for (const slot of slots) {
      if (slot.node !== null) Object.assign(slot, { node: null, since: now })
    }
    return result
  }
  const nodes = new Map(input.nodes.map((node) => [node.id, node]))
  const used = new Map(input.used)
  const need = service.spec.resources
  const counts = new Map<string, number>()
  for (const slot of slots) {
    const node = slot.node === null ? undefined : nodes.get(slot.node)
    const gone = node === undefined ? !input.keep(slot.node!) : !canRun(service, node)
    if (slot.node !== null && gone) {
      slot.node = null
      slot.since = now
    }
    if (slot.node !== null) {
      used.set(slot.node, addAmounts(used.get(slot.node) ?? ZERO, need))
      counts.set(slot.node, (counts.get(slot.node) ?? 0) + 1)
    }
  }
  for (const slot of slots) {
    if (slot.node !== null) continue
    const node = choose(service, input.nodes, used, counts, input.imageShares)
    if (node === undefined) continue
    Object.assign(slot, { node: node.id, ...target, since: now })
    used.set(node.id, addAmounts(used.get(node.id) ?? ZERO, need))
    counts.set(node.id, (counts.get(node.id) ?? 0) + 1)
    result.placed++
  }
  if (result.placed > 0 || !slots.every((slot, index) => settled(input, slot, index))) return result
  const stale = slots.find((slot) => slot.generation < target.generation || slot.commit !== target.commit)
  if (stale !== undefined) {
    Object.assign(stale, target, { since: now })
    result.rolled = true
    return result
  }
  if (service.spec.spread) result.balanced = balance(input, slots, used, counts)
  return result
}

/** True once the slot's node runs what the slot says, or it has had SLOT_SETTLE_TIMEOUT_MS to. */
function settled(input: PlanInput, slot: Slot, index: number): boolean {
  if (slot.node === null) return true
  if (input.now - slot.since >= SLOT_SETTLE_TIMEOUT_MS) return true
  const status = input.reported(index, slot.node)
  if (status === undefined || status.state !== 'running') return false
  if (status.generation < slot.generation || (slot.commit !== null && status.commit !== slot.commit))
    return false
  return status.health !== 'starting' && status.health !== 'unhealthy'
}

/** One move from the fullest node to the emptiest that fits, if they differ by two or more. */
function balance(
  input: PlanInput,
  slots: Slot[],
  used: Map<string, Amounts>,
  counts: Map<string, number>,
): boolean {
  const { service } = input
  let fullest: string | undefined
  for (const [node, count] of counts) {
    if (
      fullest === undefined ||
      count > counts.get(fullest)! ||
      (count === counts.get(fullest) && node > fullest)
    )
      fullest = node
  }
  if (fullest === undefined) return false
  const most = counts.get(fullest)!
  const room = (node: PlanNode): boolean =>
    node.id !== fullest &&
    input.now - node.aliveSince >= BALANCE_NODE_AGE_MS &&
    canRun(service, node) &&
    (counts.get(node.id) ?? 0) + 2 <= most &&
    fits(service.spec.resources, used.get(node.id) ?? ZERO, node.capacity)
  const emptiest = choose(service, input.nodes.filter(room), used, counts, input.imageShares)
  if (emptiest === undefined) return false
  const index = slots.findLastIndex((slot) => slot.node === fullest)
  const slot = slots[index]!
  Object.assign(slot, { node: emptiest.id, since: input.now })
  used.set(fullest, subtractAmounts(used.get(fullest)!, service.spec.resources))
  return true
}

/** The node for a new instance: fits, then fewest of this service (spread), least loaded, most of the image held, by id. */
function choose(
  service: ServiceValue,
  nodes: readonly PlanNode[],
  used: ReadonlyMap<string, Amounts>,
  counts: ReadonlyMap<string, number>,
  imageShares: ReadonlyMap<string, number>,
): PlanNode | undefined {
  let best: PlanNode | undefined
  let bestScore: number[] = []
  for (const node of nodes) {
    if (!canRun(service, node)) continue
    const usage = used.get(node.id) ?? ZERO
    if (!fits(service.spec.resources, usage, node.capacity)) continue
    const score = [
      service.spec.spread ? (counts.get(node.id) ?? 0) : 0,
      loadAfter(addAmounts(usage, service.spec.resources), node.capacity),
      1 - (imageShares.get(node.id) ?? 0),
    ]
    if (best === undefined || less(score, bestScore) || (equal(score, bestScore) && node.id < best.id)) {
      best = node
      bestScore = score
    }
  }
  return best
}

/** The node may run the service at all: not drained, labels match, its policy allows the driver and network. */
function canRun(service: ServiceValue, node: Candidate): boolean {
  if (node.drained) return false
  for (const [key, value] of Object.entries(service.spec.constraints))
    if (node.labels[key] !== value) return false
  const needs = { driver: service.spec.driver, network: service.spec.network }
  return policyRefusal(needs, { drivers: node.drivers, allowHostNetwork: node.hostNetwork }) === undefined
}

function loadAfter(used: Amounts, capacity: Amounts): number {
  const share = (u: number, c: number): number => (c === 0 ? 0 : u / c)
  return Math.max(
    share(used.cpuMillis, capacity.cpuMillis),
    share(used.memory, capacity.memory),
    share(used.disk, capacity.disk),
    share(used.gpu, capacity.gpu),
  )
}

function less(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!
  return false
}

function equal(a: number[], b: number[]): boolean {
  return !less(a, b) && !less(b, a)
}
