// The libp2p node behind the Mesh face: transports, private network, discovery, gossipsub and stream protocols.
import { EventEmitter } from 'node:events'
import { type GossipSub, gossipsub, TopicValidatorResult } from '@libp2p/gossipsub'
import { createTopicScoreParams, type TopicScoreParams } from '@libp2p/gossipsub/score'
import { identify } from '@libp2p/identify'
import type { Libp2p, PeerId, PrivateKey, Stream } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { type Ping, ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { Logger } from 'pino'
import { Gauge } from 'prom-client'
import { ListenFailedError, PeerUnresponsiveError } from '../errors.js'
import { partLogger } from '../logger.js'
import {
  DIAL_TIMEOUT_MS,
  GOSSIP_D,
  GOSSIP_D_HIGH,
  GOSSIP_D_LOW,
  GOSSIP_D_OUT,
  GOSSIP_D_SCORE,
  GOSSIP_FACTOR,
  GOSSIP_INVALID_MESSAGE_DECAY,
  GOSSIP_INVALID_MESSAGE_WEIGHT,
  GOSSIP_MAX_RPC_BYTES,
  IDONTWANT_MIN_BYTES,
  INBOUND_CONNECTIONS_PER_HOST_PER_SECOND,
  MAX_INCOMING_PENDING_CONNECTIONS,
  MDNS_INTERVAL_MS,
} from './constants.js'
import { PeerDialer } from './dialer.js'
import { reuseEd25519KeyObjects } from './ed25519-keys.js'
import { mendLengthPrefixedDecoder } from './length-prefix-fix.js'
import { quietMdns } from './quiet-mdns.js'
import type {
  GossipTopicHandler,
  GossipVerdict,
  Mesh,
  MeshComponents,
  MeshEvents,
  MeshInit,
  StreamHandlerOptions,
} from './types.js'
import { mendXsalsa20 } from './xsalsa20-fix.js'
import { mendYamuxWindowUpdates } from './yamux-window-fix.js'

type Node = Libp2p<{ identify: unknown; ping: Ping; pubsub: GossipSub }>

const VERDICTS: Record<GossipVerdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  reject: TopicValidatorResult.Reject,
  ignore: TopicValidatorResult.Ignore,
}

// Before any connection exists (see xsalsa20-fix.ts, yamux-window-fix.ts and length-prefix-fix.ts).
mendXsalsa20()
mendLengthPrefixedDecoder()
mendYamuxWindowUpdates()
export class Libp2pMesh extends EventEmitter<MeshEvents> implements Mesh {
  readonly peerId: string
  readonly privateKey: PrivateKey
  private node: Node | undefined
  private dialer: PeerDialer | undefined
  private readonly log: Logger
  private readonly topics = new Map<string, GossipTopicHandler>()
  private blocked: ReadonlySet<string> = new Set()
  private readonly protocols = new Map<
    string,
    { handler: (stream: Stream, peer: string) => Promise<void>; options: StreamHandlerOptions }
  >()

  constructor(
    components: MeshComponents,
    private readonly init: MeshInit,
  ) {
    super()
    this.privateKey = init.privateKey
    reuseEd25519KeyObjects(init.privateKey)
    this.log = partLogger(components.logger, 'mesh')
    // The peer id is derived from the key, so it is known before start().
    this.peerId = peerIdFromPrivateKey(init.privateKey).toString()
    const mesh = this
    new Gauge({
      name: 'shoal_peers',
      help: 'Peers this node has an open connection to',
      registers: [components.metrics],
      collect() {
        this.set(mesh.connectedPeers().length)
      },
    })
  }

  private requireNode(): Node {
    if (this.node === undefined) throw new TypeError('mesh is not started')
    return this.node
  }

  async start(): Promise<void> {
    if (this.node !== undefined) return
    const { init } = this
    const node = (await createLibp2p({
      privateKey: init.privateKey,
      addresses: { listen: [...init.listen] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      // Keepalive pings on every connection cost each node O(N) messages as the mesh grows; membership's probes
      // already tell a dead peer from a live one, and its connections are dropped when it is declared dead.
      streamMuxers: [yamux({ enableKeepAlive: false })],
      connectionMonitor: { enabled: false },
      connectionProtector: preSharedKey({ psk: init.swarmKey.bytes }),
      // Only blockPeers() (partition tests) ever refuses a peer that holds the swarm key.
      connectionGater: {
        denyDialPeer: (peer) => this.blocked.has(peer.toString()),
        denyInboundEncryptedConnection: (peer) => this.blocked.has(peer.toString()),
        denyOutboundEncryptedConnection: (peer) => this.blocked.has(peer.toString()),
      },
      connectionManager: {
        dialTimeout: DIAL_TIMEOUT_MS,
        inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_HOST_PER_SECOND,
        maxIncomingPendingConnections: MAX_INCOMING_PENDING_CONNECTIONS,
      },
      peerDiscovery: init.mdns
        ? [
            quietMdns({
              interval: MDNS_INTERVAL_MS,
              serviceTag: `_shoal-${init.swarmKey.fingerprint}._udp.local`,
            }),
          ]
        : [],
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({
          emitSelf: false,
          allowPublishToZeroTopicPeers: true,
          maxInboundDataLength: GOSSIP_MAX_RPC_BYTES,
          D: GOSSIP_D,
          Dlo: GOSSIP_D_LOW,
          Dhi: GOSSIP_D_HIGH,
          Dout: GOSSIP_D_OUT,
          Dscore: GOSSIP_D_SCORE,
          gossipFactor: GOSSIP_FACTOR,
          // Without a fast id, gossipsub verifies the signature of every duplicate copy before noticing it
          // is one: with D mesh peers that is up to D Ed25519 verifications per message instead of one.
          fastMsgIdFn: fastMessageId,
          // IDONTWANT costs a control message to every mesh peer per message; it saves more than that
          // only for large messages (record batches), not for ~1 KiB heartbeats. Measured: −11 % CPU.
          idontwantMinDataSize: IDONTWANT_MIN_BYTES,
          // IP colocation scoring defends open networks against Sybils by penalising many peers on one IP:
          // −5 × (peers − 10)² each, so 20 daemons on one host, or a rack behind one NAT, graylist each
          // other and gossip stops. In a private network the swarm key is the admission control.
          scoreParams: {
            IPColocationFactorWeight: 0,
            topics: Object.fromEntries(
              init.penaliseInvalidGossip === false
                ? []
                : [...this.topics.keys()].map((topic) => [topic, invalidMessageScoring()]),
            ),
          },
        }),
      },
      start: false,
    })) as unknown as Node

    node.addEventListener('peer:connect', (event) => {
      const peer = event.detail.toString()
      const direction = node.getConnections(event.detail)[0]?.direction ?? 'inbound'
      this.log.debug({ peer, direction }, 'peer connected')
      this.dialer?.markReachable(peer)
      this.emit('peer:connect', peer, direction)
    })
    node.addEventListener('peer:disconnect', (event) => {
      this.log.debug({ peer: event.detail.toString() }, 'peer disconnected')
      this.emit('peer:disconnect', event.detail.toString())
      this.dialer?.onDisconnect()
    })
    node.addEventListener('peer:discovery', (event) => {
      const peer = event.detail.id.toString()
      this.log.debug({ peer, addrs: event.detail.multiaddrs.map(String) }, 'discovered peer')
      node.peerStore
        .merge(event.detail.id, { multiaddrs: event.detail.multiaddrs })
        .then(() => this.dialer?.discovered(peer))
        .catch((err: Error) =>
          this.log.warn({ peer, err: err.message }, 'could not store discovered addresses'),
        )
    })
    node.services.pubsub.addEventListener('message', (event) => {
      const message = event.detail
      if (message.type !== 'signed') return
      this.topics.get(message.topic)?.deliver({ from: message.from.toString(), data: message.data })
    })

    // Handlers go in before the node listens, so no early peer finds a protocol missing.
    for (const [protocol, { handler, options }] of this.protocols) {
      await this.attachProtocol(node, protocol, handler, options)
    }
    try {
      await node.start()
    } catch (err) {
      // Release whatever did start (a listener on one of several addresses) before reporting.
      await node.stop()
      throw new ListenFailedError(`cannot listen on ${init.listen.join(', ')}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    this.node = node
    for (const [topic, handler] of this.topics) this.attachTopic(node, topic, handler)

    this.dialer = new PeerDialer(
      {
        dial: async (target) => {
          const signal = AbortSignal.timeout(DIAL_TIMEOUT_MS)
          const connection =
            'addr' in target
              ? await node.dial(multiaddr(target.addr), { signal })
              : await node.dial(peerIdFromString(target.peer), { signal })
          return connection.remotePeer.toString()
        },
        isConnected: (peer) => this.isConnected(peer),
        connectionCount: () => this.connectedPeers().length,
      },
      { bootstrap: init.bootstrap, selfPeerId: this.peerId, targetConnections: init.targetConnections },
      this.log,
    )
    this.dialer.start()
    this.log.info({ peerId: this.peerId, addresses: this.addresses() }, 'mesh started')
  }

  async stop(): Promise<void> {
    const node = this.node
    if (node === undefined) return
    this.dialer?.stop()
    this.dialer = undefined
    this.node = undefined
    await node.stop()
    this.log.info('mesh stopped')
  }

  addresses(): string[] {
    if (this.node === undefined) return []
    return this.node.getMultiaddrs().map(String)
  }

  connectedPeers(): string[] {
    // Not libp2p's getPeers(), which parses every peer id back from its string: O(N) base58 decodes each time
    // the dialer or a gauge asks. A connection's remote peer already knows its string.
    const peers = new Set<string>()
    for (const connection of this.node?.getConnections() ?? []) peers.add(connection.remotePeer.toString())
    return [...peers]
  }

  isConnected(peer: string): boolean {
    if (this.node === undefined) return false
    return this.node.getConnections(peerIdFromString(peer)).length > 0
  }

  /** Registers a stream protocol handler; before start() it is kept and registered when the node starts. */
  async handle(
    protocol: string,
    handler: (stream: Stream, peer: string) => Promise<void>,
    options: StreamHandlerOptions = {},
  ): Promise<void> {
    this.protocols.set(protocol, { handler, options })
    if (this.node !== undefined) await this.attachProtocol(this.node, protocol, handler, options)
  }

  private async attachProtocol(
    node: Node,
    protocol: string,
    handler: (stream: Stream, peer: string) => Promise<void>,
    options: StreamHandlerOptions,
  ): Promise<void> {
    await node.handle(
      protocol,
      async (stream, connection) => {
        const peer = connection.remotePeer.toString()
        try {
          await handler(stream, peer)
        } catch (err) {
          this.log.debug({ protocol, peer, err: (err as Error).message }, 'stream handler failed')
          stream.abort(err as Error)
        }
      },
      { maxInboundStreams: options.maxInboundStreams ?? 32 },
    )
  }

  async connect(peer: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.requireNode().dial(peerIdFromString(peer), options)
  }

  async openStream(peer: string, protocol: string, options: { signal?: AbortSignal } = {}): Promise<Stream> {
    return this.requireNode().dialProtocol(peerIdFromString(peer), protocol, options)
  }

  subscribe(topic: string, handler: GossipTopicHandler): void {
    this.topics.set(topic, handler)
    if (this.node !== undefined) this.attachTopic(this.node, topic, handler)
  }

  private attachTopic(node: Node, topic: string, handler: GossipTopicHandler): void {
    node.services.pubsub.topicValidators.set(topic, (_peer: PeerId, message) => {
      if (message.type !== 'signed') return TopicValidatorResult.Reject
      return VERDICTS[
        handler.validate({ from: message.from.toString(), data: message.data, via: _peer.toString() })
      ]
    })
    node.services.pubsub.subscribe(topic)
  }

  async publish(topic: string, data: Uint8Array): Promise<number> {
    const { recipients } = await this.requireNode().services.pubsub.publish(topic, data)
    return recipients.length
  }

  async addPeerAddresses(peer: string, addresses: readonly string[]): Promise<void> {
    if (peer === this.peerId || this.node === undefined) return
    const multiaddrs = []
    for (const addr of addresses) {
      try {
        multiaddrs.push(multiaddr(addr))
      } catch (err) {
        // An address we cannot parse is useless for dialling; the others still are.
        this.log.debug({ peer, addr, err: (err as Error).message }, 'ignoring unparseable peer address')
      }
    }
    if (multiaddrs.length === 0) return
    await this.node.peerStore.merge(peerIdFromString(peer), { multiaddrs })
    this.dialer?.addCandidate(peer)
  }

  forgetPeer(peer: string): void {
    this.dialer?.removeCandidate(peer)
  }

  gossipScore(peer: string): number {
    // The implementation has it; gossipsub's published interface leaves it out.
    const pubsub = this.node?.services.pubsub as unknown as { getScore(peer: string): number } | undefined
    return pubsub?.getScore(peer) ?? 0
  }

  remoteHost(peer: string): string | undefined {
    const connection = this.node?.getConnections(peerIdFromString(peer))[0]
    return connection?.remoteAddr.getComponents().find((part) => part.name === 'ip4' || part.name === 'ip6')
      ?.value
  }

  dropConnections(peer: string): void {
    const node = this.node
    if (node === undefined) return
    for (const connection of node.getConnections(peerIdFromString(peer))) {
      connection.abort(new PeerUnresponsiveError('the peer stopped answering'))
    }
  }

  async blockPeers(peers: Iterable<string>): Promise<void> {
    this.blocked = new Set(peers)
    const node = this.node
    if (node === undefined) return
    await Promise.all(
      node
        .getPeers()
        .filter((peer) => this.blocked.has(peer.toString()))
        .map((peer) =>
          node.hangUp(peer).catch((err: Error) =>
            // Fault injection only; the gater refuses every new connection of the peer either way.
            this.log.debug(
              { peer: peer.toString(), err: err.message },
              'could not hang up on a blocked peer',
            ),
          ),
        ),
    )
    if (this.blocked.size === 0) this.dialer?.resetBackoff()
  }

  async ping(peer: string, options: { signal?: AbortSignal } = {}): Promise<number> {
    return this.requireNode().services.ping.ping(peerIdFromString(peer), options)
  }
}

/**
 * Publisher and sequence number identify a message (they are gossipsub's own message id under StrictSign).
 * Gossipsub caches fast ids only for messages that passed validation, so a forged copy sent first cannot
 * make the genuine one look like a duplicate.
 */
function fastMessageId(message: { from?: Uint8Array; seqno?: Uint8Array }): string {
  const from = message.from === undefined ? '' : Buffer.from(message.from).toString('base64')
  const seqno = message.seqno === undefined ? '' : Buffer.from(message.seqno).toString('hex')
  return `${from}:${seqno}`
}

/** Topic score parameters that count only invalid messages (P4); every other component of the score is off. */
function invalidMessageScoring(): TopicScoreParams {
  return createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0,
    firstMessageDeliveriesWeight: 0,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: GOSSIP_INVALID_MESSAGE_WEIGHT,
    invalidMessageDeliveriesDecay: GOSSIP_INVALID_MESSAGE_DECAY,
  })
}
