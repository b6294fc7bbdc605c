// `shoal status [--json]`: this daemon's identity, addresses and view of the mesh.
import type { StatusView } from '../../src/api/types.js'
import type { ApiClient } from '../client.js'
import { describeCoordinator } from './coordinator.js'

export async function statusCommand(client: ApiClient, options: { json?: boolean }): Promise<void> {
  const status = await client.get<StatusView>('/v1/status')
  if (options.json === true) {
    console.log(JSON.stringify(status, null, 2))
    return
  }
  const { nodes } = status
  const remote = status.addresses.find((addr) => !addr.includes('/127.0.0.1/')) ?? status.addresses[0]
  const rows: Array<[string, string]> = [
    ['peer id', status.peerId],
    ['name', status.name],
    ['version', status.version],
    ['data dir', status.dataDir],
    ['web', status.httpUrl],
    ['peers', `${status.peers} connected`],
    [
      'nodes',
      `${nodes.alive} alive, ${nodes.suspect} suspect, ${nodes.dead} dead, ${nodes.left} left (others)`,
    ],
    ['coordinator', describeCoordinator(status.coordinator)],
    ['records', String(status.records)],
    ['swarm key', `fingerprint ${status.swarmKeyFingerprint}`],
    ...status.addresses.map((addr, i): [string, string] => [i === 0 ? 'addresses' : '', addr]),
  ]
  for (const [label, value] of rows) console.log(`${label.padEnd(11)}  ${value}`)
  if (remote !== undefined) {
    console.log(`\nto join from another machine (with a copy of this node's swarm.key):`)
    console.log(`  shoal daemon --swarm-key ./swarm.key --bootstrap ${remote}`)
  }
}
