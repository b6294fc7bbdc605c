import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseReference } from '../../src/layers/reference.js'
import { RegistryClient } from '../../src/layers/registry-client.js'
import { RegistryConfig } from '../../src/layers/registry-config.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'

const sha = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`
const CONFIG = '{"architecture":"amd64","os":"linux"}'
const MANIFEST = JSON.stringify({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(CONFIG), size: CONFIG.length },
  layers: [],
})
const INDEX = (arch: string): string =>
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { digest: sha(MANIFEST), size: MANIFEST.length, platform: { os: 'linux', architecture: arch } },
    ],
  })

/**
 * A stand-in for an authenticating registry (Docker Hub's flow: 401 with a Bearer challenge, a token service
 * taking basic credentials). The real registry without auth is exercised by the pull tests.
 */
function fakeRegistry(): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const auth = req.headers.authorization ?? ''
    if (url.pathname === '/token') {
      const expected = `Basic ${Buffer.from('me:secret').toString('base64')}`
      if (auth !== expected) return void res.writeHead(401).end()
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ token: 'T0K3N' }))
    }
    const [, , repo, what, ref] =
      /^\/v2\/(bearer|basic|broken|huge|arm)\/(\w+)\/(manifests|blobs)\/(.+)$/.exec(url.pathname) ?? []
    const name = /^\/v2\/([a-z]+)\//.exec(url.pathname)?.[1]
    if (name === 'bearer' && auth !== 'Bearer T0K3N') {
      return void res
        .writeHead(401, {
          'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="fake",scope="repository:bearer/app:pull"`,
        })
        .end()
    }
    if (name === 'basic' && auth !== `Basic ${Buffer.from('me:secret').toString('base64')}`) {
      return void res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' }).end()
    }
    if (name === 'broken') return void res.writeHead(500).end()
    if (name === 'huge') return void res.writeHead(200, { 'content-length': String(5 * 1024 * 1024) }).end()
    if (name === 'arm' && url.pathname.endsWith('/manifests/v1')) {
      return void res
        .writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' })
        .end(INDEX('arm64'))
    }
    void repo
    void what
    if (url.pathname.endsWith('/manifests/v1') || ref === sha(MANIFEST)) {
      return void res
        .writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' })
        .end(MANIFEST)
    }
    res.writeHead(404).end()
  })
}

describe('the registry client against an authenticating registry', () => {
  let server: Server
  let host: string
  let dir: string
  let client: RegistryClient
  beforeAll(async () => {
    server = fakeRegistry()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`
    dir = await makeTempDir('shoal-regcfg-')
    await writeFile(
      join(dir, 'registries.json'),
      JSON.stringify({ registries: { [host]: { username: 'me', password: 'secret' } } }),
    )
    client = new RegistryClient(
      await RegistryConfig.load(join(dir, 'registries.json'), true),
      pino({ level: 'silent' }),
    )
  })
  afterAll(async () => {
    server.close()
    await removeDir(dir)
  })
  const platform = { os: 'linux', architecture: 'amd64' }

  it('answers a bearer challenge with a token from the token service, using the configured login', async () => {
    const image = await client.resolve(parseReference(`${host}/bearer/app:v1`), platform)
    expect(image.manifestDigest).toBe(sha(MANIFEST))
    expect(image.config.digest).toBe(sha(CONFIG))
  })

  it('answers a basic challenge with the configured login', async () => {
    expect((await client.resolve(parseReference(`${host}/basic/app:v1`), platform)).manifestDigest).toBe(
      sha(MANIFEST),
    )
  })

  it('reports refused logins, server errors, huge manifests and missing platforms with their codes', async () => {
    const anonymous = new RegistryClient(RegistryConfig.empty(), pino({ level: 'silent' }))
    await expect(anonymous.resolve(parseReference(`${host}/basic/app:v1`), platform)).rejects.toMatchObject({
      code: 'SHOAL_REGISTRY_AUTH',
    })
    await expect(anonymous.resolve(parseReference(`${host}/bearer/app:v1`), platform)).rejects.toMatchObject({
      code: 'SHOAL_REGISTRY_AUTH',
    })
    await expect(client.resolve(parseReference(`${host}/broken/app:v1`), platform)).rejects.toMatchObject({
      code: 'SHOAL_REGISTRY_ERROR',
    })
    await expect(client.resolve(parseReference(`${host}/huge/app:v1`), platform)).rejects.toMatchObject({
      code: 'SHOAL_MANIFEST_INVALID',
    })
    await expect(client.resolve(parseReference(`${host}/arm/app:v1`), platform)).rejects.toMatchObject({
      code: 'SHOAL_PLATFORM_NOT_FOUND',
    })
    await expect(client.resolve(parseReference(`${host}/plain/app:nope`), platform)).rejects.toMatchObject({
      code: 'SHOAL_MANIFEST_NOT_FOUND',
    })
  })
})
