// `shoal image pull|list|rm` and `shoal layer list`.
import type { ImageView, LayerView, LocalImage, PullEvent, PullResult } from '../../src/api/types.js'
import { PullFailedError, ShoalError } from '../../src/errors.js'
import type { ApiClient } from '../client.js'
import { bytes, shortId, table } from '../format.js'

type PullLine =
  | PullEvent
  | ({ type: 'result' } & PullResult)
  | { type: 'error'; error: { code: string; message: string } }

/** `sha256:abcdef…` → `abcdef012345`, as docker shows layers. */
const short = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12)

export async function imagePullCommand(
  client: ApiClient,
  ref: string,
  options: { json?: boolean },
): Promise<void> {
  const progress = options.json === true ? undefined : await createProgress()
  let result: PullResult | undefined
  let failure: { code: string; message: string } | undefined
  await client.stream('/v1/images/pull', { ref }, (value) => {
    const line = value as PullLine
    if (line.type === 'result') result = line
    else if (line.type === 'error') failure = line.error
    else progress?.update(line)
  })
  progress?.stop()
  if (failure !== undefined) throw new ShoalError(failure.code, failure.message)
  if (result === undefined) throw new PullFailedError('the daemon ended the pull without a result')
  if (options.json === true) {
    console.log(JSON.stringify(result, null, 2))
    return
  }
  const { image } = result
  console.log(`Digest: ${image.digest}`)
  console.log(
    `Pulled ${image.ref}: ${bytes(result.bytesFromOrigin)} from the origin, ${bytes(result.bytesFromPeers)} from peers`,
  )
  if (result.loadedIntoDocker)
    console.log(`Loaded into Docker as ${image.ref.replace(/^docker\.io\/(library\/)?/, '')}`)
}

interface Progress {
  update(event: PullEvent): void
  stop(): void
}

/** Per-layer bars on a terminal (like `docker pull`); one line per layer state change otherwise. */
async function createProgress(): Promise<Progress> {
  if (process.stdout.isTTY !== true) {
    const said = new Map<string, string>()
    return {
      update(event) {
        if (event.type === 'resolved') console.log(`${event.ref}: resolved to ${event.digest}`)
        if (event.type !== 'blob') return
        const text =
          event.status === 'done'
            ? `Pull complete${event.source === undefined ? '' : ` (${event.source})`}`
            : event.status === 'downloading'
              ? `Downloading from ${event.source ?? 'peer'}`
              : 'Waiting'
        if (said.get(event.digest) === text) return
        said.set(event.digest, text)
        console.log(`${short(event.digest)}: ${text}`)
      },
      stop() {},
    }
  }
  const { MultiBar, Presets } = await import('cli-progress')
  const bars = new MultiBar(
    { format: '{layer}: {status} [{bar}] {sizes}', hideCursor: true, clearOnComplete: false, barsize: 30 },
    Presets.shades_classic,
  )
  const byDigest = new Map<string, ReturnType<InstanceType<typeof MultiBar>['create']>>()
  return {
    update(event) {
      if (event.type !== 'blob') return
      let bar = byDigest.get(event.digest)
      const payload = {
        layer: short(event.digest),
        status: (event.status === 'done'
          ? `Pull complete (${event.source ?? 'done'})`
          : event.status === 'downloading'
            ? `Downloading (${event.source})`
            : 'Waiting'
        ).padEnd(24),
        sizes: `${bytes(event.current)}/${bytes(event.total)}`,
      }
      if (bar === undefined) {
        bar = bars.create(Math.max(1, event.total), event.current, payload)
        byDigest.set(event.digest, bar)
      } else {
        bar.update(event.current, payload)
      }
    },
    stop: () => bars.stop(),
  }
}

function scopeQuery(options: { all?: boolean; node?: string }): string {
  const params = new URLSearchParams()
  if (options.all === true) params.set('all', '1')
  if (options.node !== undefined) params.set('node', options.node)
  const text = params.toString()
  return text === '' ? '' : `?${text}`
}

export async function imageListCommand(
  client: ApiClient,
  options: { all?: boolean; node?: string; quiet?: boolean; json?: boolean },
): Promise<void> {
  const images = await client.get<ImageView[]>(`/v1/images${scopeQuery(options)}`)
  if (options.json === true) {
    console.log(JSON.stringify(images, null, 2))
    return
  }
  if (options.quiet === true) {
    for (const ref of new Set(images.map((image) => image.ref))) console.log(ref)
    return
  }
  if (images.length === 0) {
    console.log('no images')
    return
  }
  const rows = images.map((image) => [
    image.ref,
    image.nodeName,
    image.source,
    image.source === 'store' ? short(image.digest) : image.digest.replace(/^sha256:/, '').slice(0, 12),
    image.source === 'store' ? bytes(image.size) : '-',
    image.source === 'store' ? String(image.layers.length) : '-',
  ])
  console.log(table(['IMAGE', 'NODE', 'WHERE', 'DIGEST', 'SIZE', 'LAYERS'], rows))
}

export async function imageRemoveCommand(
  client: ApiClient,
  ref: string,
  options: { json?: boolean },
): Promise<void> {
  const image = await client.delete<LocalImage>(`/v1/images?ref=${encodeURIComponent(ref)}`)
  if (options.json === true) console.log(JSON.stringify(image, null, 2))
  else console.log(`removed ${image.ref} (${image.digest})`)
}

export async function layerListCommand(
  client: ApiClient,
  options: { all?: boolean; node?: string; quiet?: boolean; json?: boolean },
): Promise<void> {
  const layers = await client.get<LayerView[]>(`/v1/layers${scopeQuery(options)}`)
  if (options.json === true) {
    console.log(JSON.stringify(layers, null, 2))
    return
  }
  if (options.quiet === true) {
    for (const layer of layers) console.log(layer.digest)
    return
  }
  if (layers.length === 0) {
    console.log('no layers')
    return
  }
  const rows = layers.map((layer) => [
    short(layer.digest),
    bytes(layer.size),
    layer.holders.map(shortId).join(' '),
  ])
  console.log(table(['DIGEST', 'SIZE', 'HOLDERS'], rows))
}
