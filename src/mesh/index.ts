// The mesh: a libp2p node (tcp, noise, yamux, pnet, mDNS, dialer, gossipsub, ping) behind a small face.
import type { Stream } from '@libp2p/interface'
import type { Mesh, MeshComponents, MeshInit } from './types.js'

export { DEFAULT_LISTEN, DEFAULT_P2P_PORT } from './constants.js'
export { loadOrCreatePeerKey, PEER_KEY_FILE } from './peer-key.js'
export {
  loadOrCreateSwarmKey,
  loadSwarmKey,
  parseSwarmKey,
  SWARM_KEY_FILE,
  type SwarmKey,
} from './swarm-key.js'
export type {
  GossipMessage,
  GossipTopicHandler,
  GossipVerdict,
  Mesh,
  MeshComponents,
  MeshEvents,
  MeshInit,
  StreamHandlerOptions,
} from './types.js'
export type { Stream }

export async function createMesh(components: MeshComponents, init: MeshInit): Promise<Mesh> {
  const { Libp2pMesh } = await import('./mesh.js')
  return new Libp2pMesh(components, init)
}
