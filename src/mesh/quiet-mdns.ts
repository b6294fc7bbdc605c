// mDNS discovery that asks often only while alone, and passes on only news: a peer we are not connected to, or new addresses.
import type { PeerDiscovery, PeerInfo } from '@libp2p/interface'
import { type MulticastDNSComponents, type MulticastDNSInit, mdns } from '@libp2p/mdns'

/** A connected peer's unchanged answer is passed on again after this long anyway (keeps its addresses fresh). */
export const MDNS_REPEAT_MS = 60_000

/**
 * Once connected to the mesh a node learns every member's addresses from their records, so it asks the LAN only
 * this often (to find a group on the LAN it lost sight of). Every node answers every query to the whole group,
 * N² answers per round: at a query every 2 s from each of 8 hosts, mDNS was 70 % of an idle lab's traffic.
 */
export const MDNS_CONNECTED_INTERVAL_MS = 300_000

interface QueryingService {
  mdns?: { query(query: { questions: Array<{ name: string; type: string }> }): void }
  start(): Promise<void> | void
  stop(): Promise<void> | void
}

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
  init: MulticastDNSInit & { interval: number; serviceTag: string },
): (components: MulticastDNSComponents & ConnectionsOf) => PeerDiscovery {
  // The library's own timer asks once at start and then (in effect) never; the timer below asks as needed.
  const discover = mdns({ ...init, interval: 2 ** 31 - 1 })
  return (components) => {
    const service = discover(components)
    askAsNeeded(
      service as unknown as QueryingService,
      init,
      () => components.connectionManager.getConnections().length > 0,
    )
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

/**
 * Looks every `interval`: queries while the node has no connection, and once every MDNS_CONNECTED_INTERVAL_MS
 * while it has one (a node that loses all its connections asks again within `interval`).
 */
function askAsNeeded(
  service: QueryingService,
  init: { interval: number; serviceTag: string },
  connected: () => boolean,
): void {
  let timer: NodeJS.Timeout | undefined
  let askedAt = performance.now()
  const look = (): void => {
    const now = performance.now()
    if (!connected() || now - askedAt >= MDNS_CONNECTED_INTERVAL_MS) {
      askedAt = now
      service.mdns?.query({ questions: [{ name: init.serviceTag, type: 'PTR' }] })
    }
  }
  const start = service.start.bind(service)
  const stop = service.stop.bind(service)
  service.start = async () => {
    await start()
    askedAt = performance.now()
    timer = setInterval(look, init.interval)
    timer.unref()
  }
  service.stop = async () => {
    clearInterval(timer)
    await stop()
  }
}
