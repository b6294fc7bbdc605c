import { afterAll, describe, expect, it } from 'vitest'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { sleep, waitFor } from '../helpers/wait.js'

describe('the swarm key', () => {
  const nodes: TestNode[] = []
  afterAll(async () => destroyNodes(nodes))

  it('lets members connect and keeps a peer with another key out', async () => {
    const a = await startNode({ name: 'a' })
    const member = await startNode({ name: 'member', join: a })
    // No swarm key given: this node makes its own, so it is from another mesh.
    const outsider = await startNode({ name: 'outsider', bootstrap: a.daemon.mesh.addresses() })
    nodes.push(a, member, outsider)

    await waitFor('the member to connect', () => a.daemon.mesh.isConnected(member.daemon.peerId))
    expect(outsider.daemon.swarmKey.fingerprint).not.toBe(a.daemon.swarmKey.fingerprint)
    // Long enough for several dial attempts by the outsider's dialer.
    await sleep(4_000)
    expect(a.daemon.mesh.isConnected(outsider.daemon.peerId)).toBe(false)
    expect(outsider.daemon.mesh.connectedPeers()).toEqual([])
    expect(
      a.daemon.membership
        .nodes({ all: true })
        .map((node) => node.name)
        .sort(),
    ).toEqual(['a', 'member'])
  })

  it('joins through a bootstrap address that has no /p2p/ peer id', async () => {
    const seed = await startNode({ name: 'seed' })
    const bare = seed.daemon.mesh.addresses()[0]!.replace(/\/p2p\/.*$/, '')
    const joiner = await startNode({ name: 'joiner', join: seed, bootstrap: [bare] })
    nodes.push(seed, joiner)
    expect(bare).not.toContain('/p2p/')
    await waitFor('the joiner to connect', () => joiner.daemon.mesh.isConnected(seed.daemon.peerId))
  })
})
