// Images and layers: which node holds which layer, and how many bytes came from the origin versus from peers.
import { Empty, ErrorNote, Loading } from '../components/pieces.js'
import { bytes, percent, plural, shortDigest } from '../format.js'
import { useApi } from '../hooks.js'
import type { ClusterStore } from '../store.js'
import type { ImageView, LayerView, NodeView } from '../types.js'

/** Rows of the layer matrix drawn at most (each row has a cell per node). */
const MATRIX_MAX_LAYERS = 300

export function LayersView({ store }: { store: ClusterStore }) {
  const images = useApi<ImageView[]>('/v1/images?all=1', store.inventoryVersion, 1_000)
  const layers = useApi<LayerView[]>('/v1/layers?all=1', store.inventoryVersion, 1_000)
  const error = images.error ?? layers.error
  return (
    <section aria-labelledby="view-title">
      <h2 id="view-title" tabIndex={-1}>
        Images and layers
      </h2>
      <Transfers store={store} layers={layers.data ?? []} />
      {error !== undefined && <ErrorNote error={error} what="images and layers" />}
      {images.loading || layers.loading ? (
        <Loading what="images and layers" />
      ) : images.data?.length === 0 && layers.data?.length === 0 ? (
        <Empty title="No images yet.">
          <p>
            Pull one on any node and every node shares its layers:{' '}
            <code>shoal image pull registry.example.com/team/app:v1</code>
          </p>
        </Empty>
      ) : (
        <>
          <Images images={images.data ?? []} />
          <Matrix store={store} layers={layers.data ?? []} images={images.data ?? []} />
        </>
      )}
    </section>
  )
}

function Transfers({ store, layers }: { store: ClusterStore; layers: LayerView[] }) {
  const latest = store.stats.at(-1)?.layerBytes
  const pulled = latest === undefined ? 0 : latest.origin + latest.peer + latest.local
  let held = 0
  let spared = 0
  for (const layer of layers) {
    held += layer.size * layer.holders.length
    spared += layer.size * Math.max(0, layer.holders.length - 1)
  }
  return (
    <div class="cards">
      <div class="card" data-testid="bytes-this-node">
        <h3>This node's pulls</h3>
        {latest === undefined || pulled === 0 ? (
          <p class="muted">No layers pulled on this node since it started.</p>
        ) : (
          <>
            <p class="big">{percent((latest.peer + latest.local) / pulled)} not from the origin</p>
            <p>
              {bytes(latest.origin)} from origin registries · {bytes(latest.peer)} from peers ·{' '}
              {bytes(latest.local)} already here
            </p>
          </>
        )}
      </div>
      <div class="card">
        <h3>Across the cluster</h3>
        <p class="big">{bytes(held)} of layers held</p>
        <p>
          {plural(layers.length, 'distinct layer')} ({bytes(held - spared)}); if each came from its registry
          once, peers spared the registries {bytes(spared)}.
        </p>
      </div>
    </div>
  )
}

interface ImageRow {
  ref: string
  size: number
  layers: number
  nodes: Array<{ id: string; name: string; source: ImageView['source'] }>
}

function Images({ images }: { images: ImageView[] }) {
  const rows = new Map<string, ImageRow>()
  for (const image of images) {
    const row = rows.get(image.ref) ?? {
      ref: image.ref,
      size: image.size,
      layers: image.layers.length,
      nodes: [],
    }
    row.size = Math.max(row.size, image.size)
    row.layers = Math.max(row.layers, image.layers.length)
    row.nodes.push({ id: image.node, name: image.nodeName, source: image.source })
    rows.set(image.ref, row)
  }
  return (
    <>
      <h3>Images</h3>
      {rows.size === 0 ? (
        <p class="muted">No images on any node (only loose layers).</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Image</th>
                <th scope="col">Size</th>
                <th scope="col">Layers</th>
                <th scope="col">On nodes</th>
              </tr>
            </thead>
            <tbody>
              {[...rows.values()].map((row) => (
                <tr key={row.ref}>
                  <th scope="row">{row.ref}</th>
                  <td>{row.size > 0 ? bytes(row.size) : '–'}</td>
                  <td>{row.layers > 0 ? row.layers : '–'}</td>
                  <td>
                    <ul class="chips">
                      {row.nodes.map((node) => (
                        <li key={`${node.id}:${node.source}`} class="chip" title={node.id}>
                          {node.name}
                          {node.source === 'docker' ? ' (docker)' : ''}
                        </li>
                      ))}
                    </ul>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  )
}

function Matrix({
  store,
  layers,
  images,
}: {
  store: ClusterStore
  layers: LayerView[]
  images: ImageView[]
}) {
  const holders = new Set(layers.flatMap((layer) => layer.holders))
  const nodes: NodeView[] = [...store.nodes.values()]
    .filter((node) => node.state === 'alive' || node.state === 'suspect' || holders.has(node.id))
    .sort((a, b) => a.name.localeCompare(b.name))
  const usedBy = new Map<string, Set<string>>()
  const use = (digest: string, what: string): void => {
    usedBy.set(digest, (usedBy.get(digest) ?? new Set()).add(what))
  }
  for (const image of images) {
    for (const digest of image.layers) use(digest, image.ref)
    if (image.source === 'store') use(image.digest, `${image.ref} (manifest)`)
  }
  const shown = [...layers].sort((a, b) => b.size - a.size).slice(0, MATRIX_MAX_LAYERS)
  return (
    <>
      <h3>Which node holds which layer</h3>
      {layers.length > shown.length && (
        <p class="muted">
          The {shown.length} largest of {plural(layers.length, 'layer')}.
        </p>
      )}
      <div class="table-wrap">
        <table class="matrix" data-testid="layer-matrix">
          <thead>
            <tr>
              <th scope="col">Layer</th>
              <th scope="col">Size</th>
              <th scope="col">Used by</th>
              {nodes.map((node) => (
                <th key={node.id} scope="col" class="matrix-node" title={node.id}>
                  {node.name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((layer) => (
              <tr key={layer.digest}>
                <th scope="row">
                  <code title={layer.digest}>{shortDigest(layer.digest)}</code>
                </th>
                <td>{bytes(layer.size)}</td>
                <td>{[...(usedBy.get(layer.digest) ?? [])].join(', ') || '–'}</td>
                {nodes.map((node) => {
                  const held = layer.holders.includes(node.id)
                  return (
                    <td key={node.id} class={held ? 'held' : 'absent'}>
                      <span aria-hidden="true">{held ? '●' : '·'}</span>
                      <span class="visually-hidden">{held ? `on ${node.name}` : `not on ${node.name}`}</span>
                    </td>
                  )
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  )
}
