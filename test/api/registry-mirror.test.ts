// The /v2 registry mirror stays read-only and bounded: no pulls unless allowed, manifests read within their cap, bad entries skipped, requests capped.
import { type ClientRequest, type IncomingMessage, request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_MIRROR_REQUESTS } from '../../src/api/routes/registry.js'
import { type Digest, inventoryKind, type LocalImage } from '../../src/layers/index.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { type CountedOrigin, startCountedOrigin } from '../helpers/registry.js'
import { waitFor } from '../helpers/wait.js'

/** A reference that does not parse, and sorts before every real one: a lookup meets it first. */
const NOT_A_REFERENCE = '0 not a reference'

async function get(
  node: TestNode,
  path: string,
): Promise<{ status: number; body: Buffer; type: string | null }> {
  const res = await fetch(`${node.daemon.api.httpUrl}${path}`)
  return {
    status: res.status,
    body: Buffer.from(await res.arrayBuffer()),
    type: res.headers.get('content-type'),
  }
}

async function registryError(
  node: TestNode,
  path: string,
): Promise<{ status: number; code: string | undefined }> {
  const { status, body } = await get(node, path)
  const parsed = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code: string }> }
  return { status, code: parsed.errors?.[0]?.code }
}

describe('the /v2 registry mirror', () => {
  let origin: CountedOrigin
  /** Pulled the image from the origin: holds it. */
  let holder: TestNode
  /** A mirror as the daemon starts by default: it serves only what it holds. */
  let strict: TestNode
  /** A mirror started with --mirror-pull. */
  let pulling: TestNode
  let nodes: TestNode[] = []
  const path = 'team/mirror'

  beforeAll(async () => {
    // A layer far bigger than loopback sockets buffer, so a download held open stays in flight.
    origin = await startCountedOrigin(path, 'v1', [24_000_000])
    holder = await startNode({ name: 'holder' })
    strict = await startNode({ name: 'strict', join: holder, mirrorUpstream: origin.proxy.host })
    pulling = await startNode({
      name: 'pulling',
      join: holder,
      mirrorUpstream: origin.proxy.host,
      tuning: { layers: { mirrorPull: true } },
    })
    nodes = [holder, strict, pulling]
    await holder.daemon.layers.pull(origin.ref, () => undefined)
    await waitFor('every node to see the holder’s image', () =>
      nodes.every((node) =>
        node.daemon.layers.imageViews({ all: true }).some((view) => view.ref === origin.ref),
      ),
    )
  }, 60_000)
  afterAll(async () => {
    await destroyNodes(nodes)
    await origin?.stop()
  })

  it('answers a tag it does not hold with 404 MANIFEST_UNKNOWN, pulling nothing, unless started with --mirror-pull', async () => {
    const gets = new Map(origin.proxy.blobGets)
    expect(await registryError(strict, `/v2/${path}/manifests/v1`)).toEqual({
      status: 404,
      code: 'MANIFEST_UNKNOWN',
    })
    // A name no node has, which --mirror-upstream would map to the origin: not asked either.
    expect(await registryError(strict, '/v2/team/elsewhere/manifests/v1')).toEqual({
      status: 404,
      code: 'MANIFEST_UNKNOWN',
    })
    expect(strict.daemon.layers.store.list()).toEqual([])
    expect(strict.daemon.layers.images.list()).toEqual([])
    expect(origin.proxy.blobGets).toEqual(gets)
  })

  it('skips an inventory entry that does not parse when it looks a tag up in the cluster', async () => {
    // The strict node (idle, so its record stays as written) lists an image whose reference does not parse.
    const records = strict.daemon.state.kind(inventoryKind)
    const own = records.value(strict.daemon.peerId)!
    const bad = { ref: NOT_A_REFERENCE, digest: origin.image.manifestDigest as Digest, layers: [], size: 0 }
    await records.put(strict.daemon.peerId, { ...own, images: [bad, ...own.images] })
    await waitFor('the pulling node to see the bad entry', () =>
      pulling.daemon.layers.imageViews({ all: true }).some((view) => view.ref === NOT_A_REFERENCE),
    )
    // With --mirror-pull the miss is pulled, through the mesh, from the holder.
    const { status, body, type } = await get(pulling, `/v2/${path}/manifests/v1`)
    expect(status).toBe(200)
    expect(type).toBe('application/vnd.docker.distribution.manifest.v2+json')
    const { createHash } = await import('node:crypto')
    expect(`sha256:${createHash('sha256').update(body).digest('hex')}`).toBe(origin.image.manifestDigest)
    expect(pulling.daemon.layers.images.get(origin.ref)).toBeDefined()
  })

  it('skips a local image entry that does not parse', async () => {
    const image = holder.daemon.layers.images.get(origin.ref)!
    const bad: LocalImage = { ...image, ref: NOT_A_REFERENCE }
    await holder.daemon.layers.images.put(bad)
    try {
      expect((await get(holder, `/v2/${path}/manifests/v1`)).status).toBe(200)
    } finally {
      await holder.daemon.layers.images.remove(NOT_A_REFERENCE)
    }
  })

  it('serves a manifest by digest, and refuses other blobs as manifests without reading a big one', async () => {
    const { manifestDigest, blobs, layers } = origin.image
    const manifest = await get(holder, `/v2/${path}/manifests/${manifestDigest}`)
    expect(manifest.status).toBe(200)
    expect(manifest.type).toBe('application/vnd.docker.distribution.manifest.v2+json')
    const store = holder.daemon.layers.store
    const reads: Array<{ digest: Digest; start?: number; end?: number }> = []
    const read = store.read.bind(store)
    store.read = (digest, start, end) => {
      reads.push({ digest, start, end })
      return read(digest, start, end)
    }
    try {
      const big = layers[1]!.digest as Digest
      expect(await registryError(holder, `/v2/${path}/manifests/${big}`)).toEqual({
        status: 404,
        code: 'MANIFEST_UNKNOWN',
      })
      expect(reads.filter((entry) => entry.digest === big)).toEqual([])
      // The image config is JSON, and small, but not a manifest.
      const config = blobs[0]!.digest
      expect(await registryError(holder, `/v2/${path}/manifests/${config}`)).toEqual({
        status: 404,
        code: 'MANIFEST_UNKNOWN',
      })
      // Blobs themselves are served as blobs.
      expect((await get(holder, `/v2/${path}/blobs/${config}`)).status).toBe(200)
    } finally {
      store.read = read
    }
  })

  it(`serves at most ${MAX_MIRROR_REQUESTS} requests at once, answers the next with 429 TOOMANYREQUESTS, and serves again once they end`, async () => {
    const big = origin.image.layers[1]!.digest
    const url = new URL(`${holder.daemon.api.httpUrl}/v2/${path}/blobs/${big}`)
    const held: ClientRequest[] = []
    try {
      // Downloads that read nothing: each stays in flight, its body stuck behind full socket buffers.
      const responses = await Promise.all(
        Array.from({ length: MAX_MIRROR_REQUESTS }, () => {
          return new Promise<IncomingMessage>((resolve, reject) => {
            const req = request(url, { agent: false }, (res) => {
              res.pause()
              resolve(res)
            })
            req.on('error', reject)
            req.end()
            held.push(req)
          })
        }),
      )
      expect(responses.every((res) => res.statusCode === 200)).toBe(true)
      const refused = await fetch(url)
      expect(refused.status).toBe(429)
      expect(refused.headers.get('retry-after')).toBe('1')
      expect(await refused.json()).toMatchObject({ errors: [{ code: 'TOOMANYREQUESTS' }] })
      // The base endpoint is not a download: it still answers.
      expect((await fetch(`${holder.daemon.api.httpUrl}/v2/`)).status).toBe(200)
    } finally {
      for (const req of held) req.destroy()
    }
    await waitFor('the mirror to serve again', async () => {
      const res = await fetch(url, { method: 'HEAD' })
      return res.status === 200
    })
  })
})
