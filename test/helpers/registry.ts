// A real origin registry (Debian's docker-registry) on loopback, a counting and throttling proxy in front of it, and test images.
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { gzipSync } from 'node:zlib'
import tar from 'tar-stream'
import { makeTempDir, removeDir } from './temp-dir.js'
import { waitFor } from './wait.js'

export interface Registry {
  /** host:port of the registry itself. */
  host: string
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

export async function startRegistry(): Promise<Registry> {
  const dir = await makeTempDir('shoal-registry-')
  const port = await freePort()
  const config = join(dir, 'config.yml')
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  )
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const host = `127.0.0.1:${port}`
  await waitFor(`the registry on ${host} (stderr: ${stderr.slice(-300)})`, async () => {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr.slice(-500)}`)
    const res = await fetch(`http://${host}/v2/`).catch(() => undefined)
    return res?.status === 200
  })
  return {
    host,
    async stop() {
      child.kill('SIGTERM')
      await exited
      await removeDir(dir)
    },
  }
}

export interface CountingProxy {
  host: string
  /** GET requests for each blob digest that reached the origin. */
  blobGets: Map<string, number>
  /** The Range header of each of those GETs, in order (undefined: the whole blob). */
  blobRanges: Map<string, Array<string | undefined>>
  /** Bytes of blob bodies sent to clients. */
  blobBytes(): number
  /** Slows blob bodies to about this many bytes per second (0: full speed). */
  throttle(bytesPerSecond: number): void
  /** The next blob body is cut off (the connection closed) once this many of its bytes have gone out. */
  cutNextBlobAfter(bytes: number): void
  stop(): Promise<void>
}

/** A proxy in front of the registry that counts blob fetches (the origin's own view) and can slow them. */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const blobGets = new Map<string, number>()
  const blobRanges = new Map<string, Array<string | undefined>>()
  let bytes = 0
  let rate = 0
  let cutAfter: number | undefined
  const server: Server = createServer((req, res) => {
    const blob = /\/blobs\/(sha256:[a-f0-9]{64})$/.exec(req.url ?? '')
    if (blob !== null && req.method === 'GET') {
      blobGets.set(blob[1]!, (blobGets.get(blob[1]!) ?? 0) + 1)
      blobRanges.set(blob[1]!, [...(blobRanges.get(blob[1]!) ?? []), req.headers.range])
    }
    const upstream = request(
      {
        host: '127.0.0.1',
        port: Number(target.split(':')[1]),
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        if (blob !== null && cutAfter !== undefined) {
          const cut = cutAfter
          cutAfter = undefined
          cutOff(up, res, cut, (sent) => {
            bytes += sent
          })
          return
        }
        const meter = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            if (blob === null) return callback(null, chunk)
            bytes += chunk.length
            if (rate <= 0) return callback(null, chunk)
            setTimeout(() => callback(null, chunk), (chunk.length / rate) * 1000)
          },
        })
        // A client that goes away (a daemon killed mid-download) ends the relay; that is expected here.
        pipeline(up, meter, res).catch(() => undefined)
      },
    )
    upstream.on('error', () => res.destroy())
    pipeline(req, upstream).catch(() => undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    host: `127.0.0.1:${port}`,
    blobGets,
    blobRanges,
    blobBytes: () => bytes,
    throttle(bytesPerSecond) {
      rate = bytesPerSecond
    },
    cutNextBlobAfter(count) {
      cutAfter = count
    },
    async stop() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/** Relays the first `cut` bytes of a body, and once they are out closes the connection (a dropped download). */
function cutOff(
  up: IncomingMessage,
  res: ServerResponse,
  cut: number,
  onSent: (bytes: number) => void,
): void {
  let sent = 0
  up.on('data', (chunk: Buffer) => {
    if (sent >= cut) return
    const part = chunk.subarray(0, cut - sent)
    sent += part.length
    onSent(part.length)
    if (sent < cut) return void res.write(part)
    res.write(part, () => {
      res.destroy()
      up.destroy()
    })
  })
}

/** A real registry holding one test image, behind a counting proxy: the origin the pull tests fetch from. */
export interface CountedOrigin {
  proxy: CountingProxy
  image: TestImage
  /** The image's reference through the proxy. */
  ref: string
  stop(): Promise<void>
}

export async function startCountedOrigin(
  repository: string,
  tag: string,
  randomLayerBytes: readonly number[],
): Promise<CountedOrigin> {
  const registry = await startRegistry()
  try {
    const image = await pushTestImage(registry.host, repository, tag, randomLayerBytes)
    const proxy = await startCountingProxy(registry.host)
    return {
      proxy,
      image,
      ref: `${proxy.host}/${repository}:${tag}`,
      async stop() {
        await proxy.stop()
        await registry.stop()
      },
    }
  } catch (err) {
    await registry.stop()
    throw err
  }
}

export interface TestImage {
  /** Digests and sizes of every blob the registry serves for it (config and layers). */
  blobs: Array<{ digest: string; size: number }>
  layers: Array<{ digest: string; size: number }>
  manifestDigest: string
  size: number
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
}

export async function tarOf(files: Array<{ name: string; content: Buffer; mode?: number }>): Promise<Buffer> {
  const pack = tar.pack()
  for (const file of files) pack.entry({ name: file.name, mode: file.mode ?? 0o644 }, file.content)
  pack.finalize()
  const chunks: Buffer[] = []
  for await (const chunk of pack) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/**
 * Builds an image (a layer holding the host's static busybox, so it runs, then layers of random bytes) and
 * pushes it to `registry` as `repository:tag`.
 */
export async function pushTestImage(
  registry: string,
  repository: string,
  tag: string,
  randomLayerBytes: readonly number[],
): Promise<TestImage> {
  const tars = [
    await busyboxLayer(),
    ...(await Promise.all(randomLayerBytes.map((size, i) => randomLayer(size, `layer-${i}`)))),
  ]
  return pushImageOfLayers(registry, repository, tag, tars)
}

/** A layer (uncompressed tar) holding the host's static busybox, so that an image with it runs. */
export async function busyboxLayer(): Promise<Buffer> {
  return tarOf([{ name: 'bin/busybox', content: await readFile('/bin/busybox'), mode: 0o755 }])
}

/** A layer (uncompressed tar) of `size` random bytes in `data/<name>.bin`. */
export function randomLayer(size: number, name: string): Promise<Buffer> {
  return tarOf([{ name: `data/${name}.bin`, content: randomBytes(size) }])
}

/**
 * Pushes an image of these layers (uncompressed tars, gzipped here the same way every time, so images made of
 * the same tars share their layers' digests) to `registry` as `repository:tag`.
 */
export async function pushImageOfLayers(
  registry: string,
  repository: string,
  tag: string,
  tars: readonly Buffer[],
): Promise<TestImage> {
  const layers = tars.map((plain) => {
    const compressed = gzipSync(plain, { level: 1 })
    return { plain, compressed, digest: sha256(compressed), diffId: sha256(plain) }
  })
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/bin/busybox', 'echo', 'hello from shoal'] },
      rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
    }),
  )
  const configDigest = sha256(config)
  for (const blob of [
    { digest: configDigest, bytes: config },
    ...layers.map((l) => ({ digest: l.digest, bytes: l.compressed })),
  ]) {
    await pushBlob(registry, repository, blob.digest, blob.bytes)
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: {
        mediaType: 'application/vnd.docker.container.image.v1+json',
        size: config.length,
        digest: configDigest,
      },
      layers: layers.map((layer) => ({
        mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
        size: layer.compressed.length,
        digest: layer.digest,
      })),
    }),
  )
  const res = await fetch(`http://${registry}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' },
    body: manifest,
  })
  if (res.status !== 201) throw new Error(`manifest push failed: ${res.status} ${await res.text()}`)
  const blobs = [
    { digest: configDigest, size: config.length },
    ...layers.map((layer) => ({ digest: layer.digest, size: layer.compressed.length })),
  ]
  return {
    blobs,
    layers: blobs.slice(1),
    manifestDigest: sha256(manifest),
    size: blobs.reduce((sum, blob) => sum + blob.size, 0),
  }
}

async function pushBlob(registry: string, repository: string, digest: string, bytes: Buffer): Promise<void> {
  const start = await fetch(`http://${registry}/v2/${repository}/blobs/uploads/`, { method: 'POST' })
  if (start.status !== 202) throw new Error(`upload start failed: ${start.status}`)
  const location = new URL(start.headers.get('location')!, `http://${registry}`)
  location.searchParams.set('digest', digest)
  const put = await fetch(location, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
    body: bytes,
  })
  if (put.status !== 201) throw new Error(`blob push failed: ${put.status} ${await put.text()}`)
}
