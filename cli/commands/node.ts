// `shoal node list [--all] [--json]` and `shoal node show ID|NAME [--json]`.
import type { NodeView } from '../../src/api/types.js'
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
    node.state,
    String(node.resources.cpus),
    `${bytes(node.resources.memoryFree)}/${bytes(node.resources.memoryTotal)}`,
    bytes(node.resources.diskFree),
    node.resources.load[0].toFixed(2),
    ago(node.lastSeen),
    labels(node.labels),
  ])
  console.log(
    table(['NAME', 'ROLE', 'ID', 'STATE', 'CPUS', 'MEM FREE', 'DISK FREE', 'LOAD', 'SEEN', 'LABELS'], rows),
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
    ['state', `${node.state}${node.connected ? ', connected' : ''}`],
    [
      'role',
      node.coordinator ? 'coordinator' : node.eligible ? 'eligible for coordinator' : 'never coordinator',
    ],
    ['last seen', `${node.lastSeen} (${ago(node.lastSeen)})`],
    ['started', node.startedAt],
    ['version', node.version],
    ['cpus', String(resources.cpus)],
    ['memory', `${bytes(resources.memoryFree)} free of ${bytes(resources.memoryTotal)}`],
    ['disk', `${bytes(resources.diskFree)} free of ${bytes(resources.diskTotal)}`],
    ['load', resources.load.map((l) => l.toFixed(2)).join(' ')],
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
