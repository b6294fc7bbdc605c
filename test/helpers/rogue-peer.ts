// A bare libp2p peer holding the swarm key that publishes hand-made gossip: the hostile member tests need.
import { readFile } from 'node:fs/promises'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { peerIdFromString } from '@libp2p/peer-id'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { STATE_TOPIC, SYNC_PROTOCOL } from '../../src/state/constants.js'
import type { Stamp } from '../../src/state/hlc.js'
import { encodeRecord, toWire } from '../../src/state/wire.js'
import type { TestNode } from './in-process.js'
import { newIdentity, type TestIdentity } from './keys.js'
import { waitFor } from './wait.js'

export interface RoguePeer {
  identity: TestIdentity
  /** Publishes raw bytes on the state topic, as gossipsub-signed messages from this peer. */
  publish(data: Uint8Array | string): Promise<void>
  /**
   * Publishes several messages in one gossipsub RPC to the target, as an IWANT answer or a batched forward
   * carries them: its receiver handles the messages of one RPC together.
   */
  publishInOneRpc(data: readonly string[]): Promise<void>
  /**
   * One sync round driven by hand: each item is sent as one frame (an object as JSON, a string as its bytes), or
   * raw with no length prefix (`{ raw }`); then every frame the target answers is read until it ends the stream.
   */
  sync(frames: readonly SyncItem[], options?: { readUntilEnd?: boolean }): Promise<SyncAnswer>
  stop(): Promise<void>
}

export type SyncItem = object | string | { raw: Uint8Array }

export interface SyncAnswer {
  /** The frames the target sent, parsed. */
  frames: Array<{ t: string; [field: string]: unknown }>
  /** How the target ended: `closed` after its last frame, `reset` if it gave up (an error frame comes first). */
  ended: 'closed' | 'reset'
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
    async publishInOneRpc(data) {
      // gossipsub's own sender, held back while the messages are published, then given them all at once.
      const pubsub = node.services.pubsub as unknown as {
        sendRpc(to: string, rpc: { subscriptions: unknown[]; messages: unknown[] }): boolean
      }
      const send = pubsub.sendRpc.bind(pubsub)
      const held: unknown[] = []
      pubsub.sendRpc = (_to, rpc) => {
        held.push(...rpc.messages)
        return true
      }
      try {
        for (const text of data)
          await node.services.pubsub.publish(STATE_TOPIC, new TextEncoder().encode(text))
      } finally {
        pubsub.sendRpc = send
      }
      if (!send(target.peerId, { subscriptions: [], messages: held }))
        throw new Error('no stream to the target')
    },
    async sync(frames) {
      const signal = AbortSignal.timeout(20_000)
      const stream = await node.dialProtocol(peerIdFromString(target.peerId), SYNC_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: 16 * 1024 * 1024 })
      const encoder = new TextEncoder()
      for (const frame of frames) {
        if (typeof frame === 'object' && 'raw' in frame && frame.raw instanceof Uint8Array)
          stream.send(frame.raw)
        else
          await lp.write(encoder.encode(typeof frame === 'string' ? frame : JSON.stringify(frame)), {
            signal,
          })
      }
      // Closing our side says we sent all we meant to: the target must answer or give up, not wait.
      await stream.close({ signal })
      const answer: SyncAnswer = { frames: [], ended: 'closed' }
      try {
        for (;;)
          answer.frames.push(JSON.parse(new TextDecoder().decode((await lp.read({ signal })).subarray())))
      } catch (err) {
        // The end of the target's answers: a clean close after its last frame, or a reset.
        const name = (err as Error).name
        answer.ended =
          name === 'UnexpectedEOFError' && answer.frames.at(-1)?.t !== 'error' ? 'closed' : 'reset'
      }
      stream.abort(new Error('done'))
      return answer
    },
    async stop() {
      await node.stop()
    },
  }
}

/** A rogue peer connected to an in-process node. */
export function startRogueAgainst(victim: TestNode): Promise<RoguePeer> {
  return startRoguePeer(victim.daemon.swarmKey.path, {
    address: victim.daemon.mesh.addresses()[0]!,
    peerId: victim.daemon.peerId,
  })
}

/** One gossip message carrying `records`, as a member publishes it. */
export function envelope(...records: unknown[]): string {
  return JSON.stringify({ v: 1, r: records })
}

/** A wire record written and signed by `who`, stamped now unless `stamp` says otherwise (its node is `who`). */
export function signedWire(
  who: TestIdentity,
  key: string,
  value: unknown,
  stamp: Partial<Omit<Stamp, 'node'>> = {},
  options: { term?: number; deleted?: boolean } = {},
): ReturnType<typeof toWire> {
  const full = { wall: Date.now(), counter: 0, ...stamp, node: who.peerId }
  return toWire(encodeRecord(who.signer, key, value, full, options))
}
