// mDNS discovery that passes on only news: a peer we are not connected to, or whose addresses changed.
import type { PeerDiscovery, PeerInfo } from '@libp2p/interface'
import { type MulticastDNSComponents, type MulticastDNSInit, mdns } from '@libp2p/mdns'

/** A connected peer's unchanged answer is passed on again after this long anyway (keeps its addresses fresh). */
export const MDNS_REPEAT_MS = 60_000

interface ConnectionsOf {
  connectionManager: { getConnections(peer?: PeerInfo['id']): unknown[] }
}

/**
 * Every node answers every query to the whole group, so on a LAN of N daemons each one receives about N²
 * answers per query interval, nearly all of them about peers it is connected to already. libp2p merges each
 * into its peer store (encode, compare, store): ~4 % of the CPU of an 8-node lab. Answers that say nothing
 * new are dropped here; a peer we are not connected to always gets through, so reconnecting is as quick as before.
 */
export function quietMdns(
  init: MulticastDNSInit,
): (components: MulticastDNSComponents & ConnectionsOf) => PeerDiscovery {
  const discover = mdns(init)
  return (components) => {
    const service = discover(components)
    const passed = new Map<string, { addresses: string; at: number }>()
    const dispatch = service.dispatchEvent.bind(service)
    service.dispatchEvent = (event: Event): boolean => {
      if (event.type !== 'peer') return dispatch(event)
      const peer = (event as CustomEvent<PeerInfo>).detail
      const id = peer.id.toString()
      const addresses = peer.multiaddrs.map(String).sort().join(' ')
      const last = passed.get(id)
      const now = performance.now()
      const news =
        last === undefined ||
        last.addresses !== addresses ||
        now - last.at > MDNS_REPEAT_MS ||
        components.connectionManager.getConnections(peer.id).length === 0
      if (!news) return true
      passed.set(id, { addresses, at: now })
      return dispatch(event)
    }
    return service
  }
}
