// Placement as a pure function: filter nodes that fit (alive, free resources, constraints, driver), then score them.
import type { Resources } from '../membership/index.js'
import { needsHostNetwork, policyRefusal } from './policy.js'
import type { JobSpec } from './spec.js'

export interface Amounts {
  cpuMillis: number
  memory: number
  disk: number
  gpu: number
}

export interface Candidate {
  id: string
  name: string
  capacity: Amounts
  labels: Record<string, string>
  drivers: { exec: boolean; docker: boolean }
  /** Its policy lets containers use host, container:<name> or named networks. */
  hostNetwork: boolean
  /** Drained by an operator: nothing new is placed on it. */
  drained: boolean
}

export const ZERO: Amounts = { cpuMillis: 0, memory: 0, disk: 0, gpu: 0 }

/** What a node offers jobs: the resources its node record declares. */
export function capacityOf(resources: Resources): Amounts {
  return {
    cpuMillis: resources.cpus * 1000,
    memory: resources.memoryTotal,
    disk: resources.diskFree,
    gpu: resources.gpus ?? 0,
  }
}

export function addAmounts(a: Amounts, b: Amounts): Amounts {
  return {
    cpuMillis: a.cpuMillis + b.cpuMillis,
    memory: a.memory + b.memory,
    disk: a.disk + b.disk,
    gpu: a.gpu + b.gpu,
  }
}

export function subtractAmounts(a: Amounts, b: Amounts): Amounts {
  return {
    cpuMillis: a.cpuMillis - b.cpuMillis,
    memory: a.memory - b.memory,
    disk: a.disk - b.disk,
    gpu: a.gpu - b.gpu,
  }
}

function scaleAmounts(a: Amounts, factor: number): Amounts {
  if (factor === 1) return a
  return {
    cpuMillis: a.cpuMillis * factor,
    memory: a.memory * factor,
    disk: a.disk * factor,
    gpu: a.gpu * factor,
  }
}

export function fits(need: Amounts, used: Amounts, capacity: Amounts): boolean {
  return (
    used.cpuMillis + need.cpuMillis <= capacity.cpuMillis &&
    used.memory + need.memory <= capacity.memory &&
    used.disk + need.disk <= capacity.disk &&
    used.gpu + need.gpu <= capacity.gpu
  )
}

/** Why no node could ever run this job (nothing to wait for), or undefined if some node could once free. */
export function neverFits(spec: JobSpec, nodes: readonly Candidate[]): string | undefined {
  const open = nodes.filter((node) => !node.drained)
  const reason = unfit(spec, open)
  if (reason === undefined || open.length === nodes.length || unfit(spec, nodes) !== undefined) return reason
  return 'every node that could run it is drained (shoal node undrain NAME)'
}

function unfit(spec: JobSpec, nodes: readonly Candidate[]): string | undefined {
  const matching = nodes.filter((node) => matches(spec, node))
  const constraints = Object.entries(spec.constraints).map(([k, v]) => `${k}=${v}`)
  const labelled = constraints.length > 0 ? ` with ${constraints.join(', ')}` : ''
  const withDriver = matching.filter((node) => node.drivers[spec.driver])
  if (withDriver.length === 0) {
    const how =
      spec.driver === 'exec'
        ? 'start daemons with --drivers docker,exec'
        : 'it needs a Docker engine, and daemons started with docker in --drivers'
    return `no live node${labelled} runs the ${spec.driver} driver (${how})`
  }
  const able = withDriver.filter((node) => runsThere(spec, node))
  if (able.length === 0 && needsHostNetwork(spec.network)) {
    return `no live node${labelled} allows network "${spec.network}" (start daemons with --allow-host-network)`
  }
  if (able.some((node) => fits(spec.resources, ZERO, node.capacity))) return undefined
  return `no live node is large enough (it asks for ${describe(spec.resources)})`
}

/** True if the node's advertised policy lets it run the job (its own runner checks the same). */
function runsThere(spec: JobSpec, node: Candidate): boolean {
  return policyRefusal(spec, { drivers: node.drivers, allowHostNetwork: node.hostNetwork }) === undefined
}

function matches(spec: JobSpec, node: Candidate): boolean {
  for (const [key, value] of Object.entries(spec.constraints)) if (node.labels[key] !== value) return false
  return true
}

/**
 * How much holding the job's image counts against load: a node holding none of it scores as if it were this
 * much busier (in shares of its most used resource) than one holding all of it, and one holding part of it in
 * proportion to the bytes it lacks. At 2, a whole image outweighs any difference in load (a share is 0..1), and
 * a node holding 9 of 10 equal layers loses only to one holding all of them that is less loaded by 0.2.
 */
export const IMAGE_LOCALITY_WEIGHT = 2

/**
 * The node to run `spec` on, or undefined if none fits now. Among nodes that fit, the lowest score wins: the
 * share of the job's image bytes a node lacks (IMAGE_LOCALITY_WEIGHT each), plus how loaded it is after placing
 * it (the largest share of any resource it would use). Only when no node has room, and `aheadShare` allows, the
 * same choice among nodes with room in the share of capacity that may wait on them.
 */
export function chooseNode(
  spec: JobSpec,
  nodes: readonly Candidate[],
  used: ReadonlyMap<string, Amounts>,
  /** Per node, the share (0..1) of the job's image bytes it holds (absent: none); see Layers.imageBytesHeld. */
  imageBytes: ReadonlyMap<string, number>,
  /** Share of capacity that may be placed beyond it, to wait on the node (0: none); used only if no node has room. */
  aheadShare = 0,
): Candidate | undefined {
  return (
    bestFit(spec, nodes, used, imageBytes, 1) ??
    (aheadShare > 0 ? bestFit(spec, nodes, used, imageBytes, 1 + aheadShare) : undefined)
  )
}

function bestFit(
  spec: JobSpec,
  nodes: readonly Candidate[],
  used: ReadonlyMap<string, Amounts>,
  imageBytes: ReadonlyMap<string, number>,
  scale: number,
): Candidate | undefined {
  let best: Candidate | undefined
  let bestScore = Number.POSITIVE_INFINITY
  for (const node of nodes) {
    if (node.drained || !runsThere(spec, node) || !matches(spec, node)) continue
    const usage = used.get(node.id) ?? ZERO
    if (!fits(spec.resources, usage, scaleAmounts(node.capacity, scale))) continue
    const load = loadAfter(addAmounts(usage, spec.resources), node.capacity)
    const lacking = 1 - Math.min(1, Math.max(0, imageBytes.get(node.id) ?? 0))
    const score = IMAGE_LOCALITY_WEIGHT * lacking + load
    if (score < bestScore || (score === bestScore && best !== undefined && node.id < best.id)) {
      best = node
      bestScore = score
    }
  }
  return best
}

/** The largest fraction of any resource in use (0..1). */
function loadAfter(used: Amounts, capacity: Amounts): number {
  const share = (u: number, c: number): number => (c === 0 ? 0 : u / c)
  return Math.max(
    share(used.cpuMillis, capacity.cpuMillis),
    share(used.memory, capacity.memory),
    share(used.disk, capacity.disk),
    share(used.gpu, capacity.gpu),
  )
}

export function describe(amounts: Amounts): string {
  const parts = [`${amounts.cpuMillis / 1000} CPU`]
  if (amounts.memory > 0) parts.push(`${Math.round(amounts.memory / 1024 ** 2)} MiB memory`)
  if (amounts.disk > 0) parts.push(`${Math.round(amounts.disk / 1024 ** 2)} MiB disk`)
  if (amounts.gpu > 0) parts.push(`${amounts.gpu} GPU`)
  return parts.join(', ')
}
