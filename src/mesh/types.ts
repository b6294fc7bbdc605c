// The mesh's types: its face to the rest of the daemon (streams, gossip, peers), its options and components.
import type { EventEmitter } from 'node:events'
import type { PrivateKey, Stream } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { SwarmKey } from './swarm-key.js'

export type GossipVerdict = 'accept' | 'reject' | 'ignore'

/** A gossip message as the mesh hands it up: the signer gossipsub verified, and the payload. */
export interface GossipMessage {
  from: string
  data: Uint8Array
  /**
   * The peer that handed it to us (gossipsub's propagation source): `from` itself, or a relay. A 'reject'
   * penalises this peer, so a verdict that depends on our own view (a rate) rejects only when it is `from`.
   */
  via?: string
}

export interface GossipTopicHandler {
  /** Runs before a message is delivered or forwarded; 'reject' also penalises the peer that sent it. */
  validate(message: GossipMessage): GossipVerdict
  /** Runs for every accepted message. */
  deliver(message: GossipMessage): void
}

export interface StreamHandlerOptions {
  /** @default 32 */
  maxInboundStreams?: number
}

export interface MeshEvents {
  'peer:connect': [peer: string, direction: 'inbound' | 'outbound']
  'peer:disconnect': [peer: string]
}

export interface Mesh extends EventEmitter<MeshEvents> {
  readonly peerId: string
  readonly privateKey: PrivateKey
  start(): Promise<void>
  stop(): Promise<void>
  /** Our listen addresses as full multiaddrs ending in /p2p/<peerId>. */
  addresses(): string[]
  connectedPeers(): string[]
  isConnected(peer: string): boolean
  /** Registers a stream protocol; before start() it is kept and registered as the node starts. */
  handle(
    protocol: string,
    handler: (stream: Stream, peer: string) => Promise<void>,
    options?: StreamHandlerOptions,
  ): Promise<void>
  openStream(peer: string, protocol: string, options?: { signal?: AbortSignal }): Promise<Stream>
  /** Opens a connection to a peer (from the addresses the peer store holds), unless there is one already. */
  connect(peer: string, options?: { signal?: AbortSignal }): Promise<void>
  /** Subscribes to a gossip topic; before start() it is kept and subscribed as the node starts. */
  subscribe(topic: string, handler: GossipTopicHandler): void
  /** Publishes; resolves to how many peers it was sent to (0 when no peer's subscription is known yet). */
  publish(topic: string, data: Uint8Array): Promise<number>
  /** Tells the dialer about a peer and where it listens (learned from the replicated state). */
  addPeerAddresses(peer: string, addresses: readonly string[]): Promise<void>
  /** Stops dialling a peer that left for good. */
  forgetPeer(peer: string): void
  /** The IP address we are connected to a peer on, if connected (where its other services answer). */
  remoteHost(peer: string): string | undefined
  /** A peer's gossipsub score as this node keeps it (negative once it sent messages our validators rejected). */
  gossipScore(peer: string): number
  /**
   * Aborts every connection to a peer that stopped answering on it (a link that went down leaves TCP
   * connections looking open for minutes); the dialer then redials it like any other lost peer.
   */
  dropConnections(peer: string): void
  /**
   * Refuses every connection to or from these peers and closes open ones; an empty list lifts the block.
   * Fault injection for partition tests (a real partition is a link going down).
   */
  blockPeers(peers: Iterable<string>): Promise<void>
  /** Round-trip time in ms over the libp2p ping protocol; dials if needed. */
  ping(peer: string, options?: { signal?: AbortSignal }): Promise<number>
}

export interface MeshInit {
  privateKey: PrivateKey
  swarmKey: SwarmKey
  /** Multiaddrs to listen on. */
  listen: readonly string[]
  /** Multiaddrs to dial at start and whenever the node has no peers; /p2p/<id> is optional. */
  bootstrap: readonly string[]
  mdns: boolean
  /** @default TARGET_CONNECTIONS */
  targetConnections?: number
  /**
   * Lower the gossipsub score of a peer for each message of a subscribed topic that our validator rejects
   * (see GOSSIP_INVALID_MESSAGE_WEIGHT). Off only for tests that fuzz one node's validator from one peer.
   * @default true
   */
  penaliseInvalidGossip?: boolean
}

export interface MeshComponents {
  logger: Logger
  metrics: Registry
}
