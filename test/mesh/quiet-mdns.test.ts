import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerInfo } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { quietMdns } from '../../src/mesh/quiet-mdns.js'

// The service is built but never started: nothing is sent or received, answers are handed to it directly.
const silentLog = Object.assign(() => undefined, { error: () => undefined, trace: () => undefined })

describe('mDNS discovery that passes on only news', () => {
  it('drops repeated answers about connected peers, and passes new peers, changed addresses and disconnected ones', async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    let connections: unknown[] = []
    const service = quietMdns({ interval: 2_000, serviceTag: '_shoal-test._udp.local' })({
      logger: { forComponent: () => silentLog },
      addressManager: { getAddresses: () => [] },
      connectionManager: { getConnections: () => connections },
    } as unknown as Parameters<ReturnType<typeof quietMdns>>[0])
    const seen: string[][] = []
    service.addEventListener('peer', (event) => seen.push(event.detail.multiaddrs.map(String)))
    const answer = (...addresses: string[]): void => {
      const detail: PeerInfo = { id: peer, multiaddrs: addresses.map((a) => multiaddr(a)) }
      service.dispatchEvent(new CustomEvent('peer', { detail }))
    }

    answer('/ip4/198.18.0.2/tcp/7420')
    expect(seen).toHaveLength(1)
    // Connected, same addresses: nothing new.
    connections = [{}]
    answer('/ip4/198.18.0.2/tcp/7420')
    answer('/ip4/198.18.0.2/tcp/7420')
    expect(seen).toHaveLength(1)
    // New addresses are news even while connected.
    answer('/ip4/198.18.0.2/tcp/7420', '/ip4/198.18.0.3/tcp/7420')
    expect(seen).toHaveLength(2)
    // A peer we lost the connection to is always passed on, so it is redialled at once.
    connections = []
    answer('/ip4/198.18.0.2/tcp/7420', '/ip4/198.18.0.3/tcp/7420')
    expect(seen).toHaveLength(3)
    expect(seen[2]).toEqual(['/ip4/198.18.0.2/tcp/7420', '/ip4/198.18.0.3/tcp/7420'])
  })
})
