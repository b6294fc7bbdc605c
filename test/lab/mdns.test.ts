import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NetnsLab } from '../../scripts/netns-lab.js'
import type { NodeView } from '../../src/api/types.js'
import { cleanupDaemons, cliJson, type DaemonProcess, spawnDaemon } from '../helpers/processes.js'
import { waitFor } from '../helpers/wait.js'

// The lab needs root. Skipping it takes an explicit SHOAL_SKIP_NETNS=1, so it never skips by accident.
const skip = process.env.SHOAL_SKIP_NETNS === '1'

describe.skipIf(skip)('mDNS discovery between two hosts in network namespaces', () => {
  let lab: NetnsLab
  let first: DaemonProcess
  let second: DaemonProcess

  beforeAll(async () => {
    lab = await NetnsLab.create(2)
    const [h1, h2] = lab.hosts
    // Default listen address and port, mDNS on, no --bootstrap anywhere.
    first = await spawnDaemon({ name: 'lan-one', netns: h1!.ns })
    second = await spawnDaemon({
      name: 'lan-two',
      netns: h2!.ns,
      args: ['--swarm-key', `${first.dataDir}/swarm.key`],
    })
  })
  afterAll(async () => {
    await cleanupDaemons()
    await lab?.destroy()
  })

  it('finds each other with no bootstrap address and list each other alive', async () => {
    for (const proc of [first, second]) {
      const nodes = await waitFor(`${proc.name} to see both nodes alive`, async () => {
        const list = await cliJson<NodeView[]>(proc.dataDir, 'node', 'list')
        return list.length === 2 && list.every((node) => node.state === 'alive') ? list : undefined
      })
      expect(nodes.map((node) => node.name)).toEqual(['lan-one', 'lan-two'])
    }
    const other = (await cliJson<NodeView[]>(first.dataDir, 'node', 'list')).find(
      (node) => node.name === 'lan-two',
    )!
    expect(other.connected).toBe(true)
    // It announced its lab address on the default port.
    expect(other.addresses).toContain(`/ip4/${lab.hosts[1]!.ip}/tcp/7420/p2p/${other.id}`)
  })
})
