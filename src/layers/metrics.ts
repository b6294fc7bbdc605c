// The layers part's Prometheus metrics: blobs and bytes by source, peers caught serving bad bytes, store size.
import { Counter, Gauge, type Registry } from 'prom-client'

export interface LayerMetrics {
  blobs: Counter<'source'>
  bytes: Counter<'source'>
  badPeers: Counter
}

export function createLayerMetrics(registry: Registry, storeBytes: () => number): LayerMetrics {
  new Gauge({
    name: 'shoal_store_bytes',
    help: 'Bytes of blobs in the content store',
    registers: [registry],
    collect() {
      this.set(storeBytes())
    },
  })
  const blobs = new Counter({
    name: 'shoal_layer_blobs_total',
    help: 'Blobs obtained by pulls, by source (origin, peer, local)',
    labelNames: ['source'],
    registers: [registry],
  })
  const bytes = new Counter({
    name: 'shoal_layer_bytes_total',
    help: 'Bytes of blobs obtained by pulls, by source (origin, peer, local)',
    labelNames: ['source'],
    registers: [registry],
  })
  for (const source of ['origin', 'peer', 'local']) {
    blobs.inc({ source }, 0)
    bytes.inc({ source }, 0)
  }
  return {
    blobs,
    bytes,
    badPeers: new Counter({
      name: 'shoal_layer_bad_peers_total',
      help: 'Times a peer served bytes that did not match their digest',
      registers: [registry],
    }),
  }
}
