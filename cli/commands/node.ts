// `shoal node list|show`, and the operator's `node drain|undrain|label` of any node at runtime.

import { setTimeout } from 'node:timers/promises'
import type { NodeView } from '../../src/api/types.js'
import { InvalidFlagError } from '../../src/errors.js'
import { LABEL_KEY, parseLabel } from '../../src/util/parse.js'
import type { ApiClient } from '../client.js'
import { ago, bytes, labels, shortId, table } from '../format.js'

export async function nodeListCommand(
  client: ApiClient,
  options: { all?: boolean; quiet?: boolean; json?: boolean },
): Promise<void> {
  const nodes = await client.get<NodeView[]>(`/v1/nodes${options.all === true ? '?all=1' : ''}`)
  if (options.json === true) {
    console.log(JSON.stringify(nodes, null, 2))
    return
  }
  if (options.quiet === true) {
    for (const node of nodes) console.log(node.id)
    return
  }
  if (nodes.length === 0) {
    console.log('no nodes')
    return
  }
  const rows = nodes.map((node) => [
    node.self ? `${node.name} *` : node.name,
    node.coordinator ? 'coordinator' : '',
    shortId(node.id),
    stateText(node),
    String(node.resources.cpus),
    gpuText(node.resources),
    `${bytes(node.resources.memoryFree)}/${bytes(node.resources.memoryTotal)}`,
    bytes(node.resources.diskFree),
    node.resources.load[0].toFixed(2),
    ago(node.lastSeen),
    labels(node.labels),
  ])
  console.log(
    table(
      ['NAME', 'ROLE', 'ID', 'STATE', 'CPUS', 'GPUS', 'MEM FREE', 'DISK FREE', 'LOAD', 'SEEN', 'LABELS'],
      rows,
    ),
  )
}

export async function nodeShowCommand(
  client: ApiClient,
  ref: string,
  options: { json?: boolean },
): Promise<void> {
  const node = await client.get<NodeView>(`/v1/nodes/${encodeURIComponent(ref)}`)
  if (options.json === true) {
    console.log(JSON.stringify(node, null, 2))
    return
  }
  const { resources } = node
  const rows: Array<[string, string]> = [
    ['id', node.id],
    ['name', node.name + (node.self ? ' (this node)' : '')],
    ['state', `${stateText(node)}${node.connected ? ', connected' : ''}`],
    [
      'role',
      node.coordinator ? 'coordinator' : node.eligible ? 'eligible for coordinator' : 'never coordinator',
    ],
    ['last seen', `${node.lastSeen} (${ago(node.lastSeen)})`],
    ['started', node.startedAt],
    ['version', node.version],
    ['cpus', String(resources.cpus)],
    ['gpus', gpuText(resources)],
    ['memory', `${bytes(resources.memoryFree)} free of ${bytes(resources.memoryTotal)}`],
    ['disk', `${bytes(resources.diskFree)} free of ${bytes(resources.diskTotal)}`],
    ['load', resources.load.map((l) => l.toFixed(2)).join(' ')],
    ['usage', usageText(node)],
    [
      'drivers',
      Object.entries(node.drivers)
        .filter(([, on]) => on)
        .map(([name]) => name)
        .join(', ') || '-',
    ],
    ['network', node.hostNetwork ? 'any (host allowed)' : 'none, bridge'],
    ['labels', labels(node.labels)],
    ...node.addresses.map((addr, i): [string, string] => [i === 0 ? 'addresses' : '', addr]),
  ]
  for (const [label, value] of rows) console.log(`${label.padEnd(10)}  ${value}`)
}

/** Where load and free memory come from: the node's answer now, or its record (it did not answer, or is down). */
function usageText(node: NodeView): string {
  // An older daemon's views do not say.
  if (node.usageAt === undefined) return 'from its record'
  const source = node.usage === 'live' ? 'asked now' : 'from its record'
  return `${source}, sampled ${ago(node.usageAt)}`
}

/** `-`, `2` (models unknown), `2× A100`, or `1× A100, 1× T4`. */
function gpuText(resources: NodeView['resources']): string {
  const count = resources.gpus ?? 0
  if (count === 0) return '-'
  const models = resources.gpuModels ?? []
  if (models.length === 0) return String(count)
  const byModel = new Map<string, number>()
  for (const model of models) byModel.set(model, (byModel.get(model) ?? 0) + 1)
  const unknown = count - models.length
  if (unknown > 0) byModel.set('unknown', unknown)
  return [...byModel].map(([model, n]) => `${n}× ${model}`).join(', ')
}

/** "alive", "alive, drained", and what was asked of it that it has not applied yet. */
function stateText(node: NodeView): string {
  const parts: string[] = [node.state]
  if (node.drained) parts.push('drained')
  if (node.pending !== undefined) parts.push(node.pending.drained ? 'drain pending' : 'change pending')
  return parts.join(', ')
}

/** How long drain, undrain and label wait for the node to apply the change before saying it has not yet. */
const APPLY_WAIT_MS = 5_000
const APPLY_POLL_MS = 100

/** `node drain`, `node undrain`: asks, then waits a little for the node's own record to show it. */
export async function nodeDrainCommand(
  client: ApiClient,
  ref: string,
  drained: boolean,
  options: { json?: boolean },
): Promise<void> {
  const asked = await client.post<NodeView>(
    `/v1/nodes/${encodeURIComponent(ref)}/${drained ? 'drain' : 'undrain'}`,
    {},
  )
  await report(
    client,
    asked,
    options,
    drained ? 'drained: no new work goes there; its services move' : 'undrained',
  )
}

/** `node label NAME k=v… k-…`: sets and removes labels of a node at runtime. */
export async function nodeLabelCommand(
  client: ApiClient,
  ref: string,
  changes: string[],
  options: { json?: boolean },
): Promise<void> {
  const set: Record<string, string> = {}
  const remove: string[] = []
  for (const change of changes) {
    if (change.includes('=')) {
      const [key, value] = parseLabel(change, 'label')
      set[key] = value
      continue
    }
    const key = change.slice(0, -1)
    if (!change.endsWith('-') || !LABEL_KEY.test(key)) {
      throw new InvalidFlagError(`expected key=value to set a label or key- to remove one, got "${change}"`)
    }
    remove.push(key)
  }
  const asked = await client.post<NodeView>(`/v1/nodes/${encodeURIComponent(ref)}/labels`, { set, remove })
  await report(client, asked, options, 'labels changed')
}

async function report(
  client: ApiClient,
  asked: NodeView,
  options: { json?: boolean },
  done: string,
): Promise<void> {
  let node = asked
  for (let waited = 0; node.pending !== undefined && waited < APPLY_WAIT_MS; waited += APPLY_POLL_MS) {
    await setTimeout(APPLY_POLL_MS)
    node = await client.get<NodeView>(`/v1/nodes/${encodeURIComponent(asked.id)}`)
  }
  if (options.json === true) {
    console.log(JSON.stringify(node, null, 2))
    return
  }
  if (node.pending === undefined) console.log(`${node.name}: ${done}; labels ${labels(node.labels)}`)
  else console.log(`${node.name}: asked; it applies the change when it sees it (it is ${node.state} now)`)
}
