// Mesh defaults and limits, with where each number comes from.

/** Default libp2p TCP port (unassigned by IANA; IPFS's 4001 is avoided so both can run side by side). */
export const DEFAULT_P2P_PORT = 7420

export const DEFAULT_LISTEN = [`/ip4/0.0.0.0/tcp/${DEFAULT_P2P_PORT}`]

/**
 * Connections the dialer keeps open when it knows enough peers. Gossipsub wants D=6 mesh peers (D_hi 12);
 * eight connections give it room to choose while per-node traffic stays flat as the cluster grows.
 */
export const TARGET_CONNECTIONS = 8

/** How often the dialer checks whether it should dial more peers. */
export const DIAL_MAINTAIN_INTERVAL_MS = 2_000

/**
 * Redial backoff per peer or bootstrap address: 1 s, doubling, at most 8 s. The peers redialled are known
 * cluster members (a failed dial costs one SYN), and the cap bounds how long after a partition heals the
 * two sides stay apart: with k unreachable peers each redialling on its own jittered timer, the first
 * reconnect comes about 8 s / (k + 1) after the heal.
 */
export const DIAL_BACKOFF_MIN_MS = 1_000
export const DIAL_BACKOFF_MAX_MS = 8_000

/** One dial attempt gives up after this long. */
export const DIAL_TIMEOUT_MS = 5_000

/** Dials the maintenance loop runs at once. */
export const MAX_PARALLEL_DIALS = 4

/**
 * Inbound connections accepted per second from one host. libp2p's default of 5 refuses a rack of machines
 * behind one NAT, or a test's nodes on one loopback address, rejoining at once; peers without the swarm
 * key are refused at the pnet handshake anyway.
 */
export const INBOUND_CONNECTIONS_PER_HOST_PER_SECOND = 64
export const MAX_INCOMING_PENDING_CONNECTIONS = 64

/** mDNS query interval: quick discovery on a LAN at a few tiny packets per interval. */
export const MDNS_INTERVAL_MS = 2_000

/** Gossipsub RPCs larger than this are refused by gossipsub itself (its decoder default). */
export const GOSSIP_MAX_RPC_BYTES = 4 * 1024 * 1024

/**
 * Gossipsub mesh degree: D peers to forward each message to (at least Dlo, at most Dhi; Dout of them dialled by
 * us, the first Dscore kept by score when pruning). Publishing floods (gossipsub's default `floodPublish`): the
 * writer sends to every connected peer, and in a cluster of up to a few dozen nodes every node is connected to
 * every other (probing dials them all), so the first copy a node gets comes straight from the writer. Mesh
 * forwarding only adds duplicates there: each node sent each message to all its mesh peers, and with the
 * default D = 6 (a mesh of 4–12 peers) every node received and decrypted up to 13 copies of every message.
 */
export const GOSSIP_D = 3
export const GOSSIP_D_LOW = 2
export const GOSSIP_D_HIGH = 4
export const GOSSIP_D_OUT = 1
export const GOSSIP_D_SCORE = 2

/**
 * Share of non-mesh peers a heartbeat sends IHAVE gossip to, when that is more than D_lazy (6). Gossipsub's 0.25
 * makes it a quarter of every connected peer, and since every node of a few dozen ends up connected to every
 * other, IHAVE per node grew linearly with the mesh (12 per node per s at 60 in-process nodes). With 0 it is
 * D_lazy peers at any size, as in gossipsub 1.0: the repair path for a copy the mesh missed stays, at a flat cost.
 */
export const GOSSIP_FACTOR = 0

/** Gossip messages smaller than this get no IDONTWANT (gossipsub's default is 512 bytes). */
export const IDONTWANT_MIN_BYTES = 16 * 1024

/**
 * Gossipsub score of a peer per invalid message (P4 in the gossipsub v1.1 spec): weight × n², n decaying by
 * GOSSIP_INVALID_MESSAGE_DECAY each second. At −0.5 a peer is left out of gossip (−10) after 5 rejected messages,
 * out of our publishing (−50) after 10 and graylisted, all it sends ignored (−80), after 13 within a few
 * seconds; an honest peer sends none (every reason to reject is judged alike by every node). The decay (0.9 per
 * second, a half-life of about 7 s) forgives a peer that stops.
 */
export const GOSSIP_INVALID_MESSAGE_WEIGHT = -0.5
export const GOSSIP_INVALID_MESSAGE_DECAY = 0.9
