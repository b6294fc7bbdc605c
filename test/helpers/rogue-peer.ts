// A bare libp2p peer holding the swarm key that publishes hand-made gossip: the hostile member tests need.
import { readFile } from 'node:fs/promises'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { STATE_TOPIC } from '../../src/state/constants.js'
import { newIdentity, type TestIdentity } from './keys.js'
import { waitFor } from './wait.js'

export interface RoguePeer {
  identity: TestIdentity
  /** Publishes raw bytes on the state topic, as gossipsub-signed messages from this peer. */
  publish(data: Uint8Array | string): Promise<void>
  stop(): Promise<void>
}

export async function startRoguePeer(
  swarmKeyFile: string,
  target: { address: string; peerId: string },
): Promise<RoguePeer> {
  const identity = await newIdentity()
  const node = (await createLibp2p({
    privateKey: identity.privateKey,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionProtector: preSharedKey({ psk: await readFile(swarmKeyFile) }),
    services: {
      identify: identify(),
      pubsub: gossipsub({ allowPublishToZeroTopicPeers: false, maxInboundDataLength: 8 * 1024 * 1024 }),
    },
  })) as unknown as Libp2p<{ pubsub: GossipSub }>
  node.services.pubsub.subscribe(STATE_TOPIC)
  await node.dial(multiaddr(target.address))
  await waitFor('the target to subscribe to the state topic', () =>
    node.services.pubsub.getSubscribers(STATE_TOPIC).some((peer) => peer.toString() === target.peerId),
  )
  return {
    identity,
    async publish(data) {
      await node.services.pubsub.publish(
        STATE_TOPIC,
        typeof data === 'string' ? new TextEncoder().encode(data) : data,
      )
    },
    async stop() {
      await node.stop()
    },
  }
}
