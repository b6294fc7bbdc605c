// A client for the OCI distribution API: manifests, indexes and blobs, with bearer-token and basic auth.
import { Readable } from 'node:stream'
import type { Logger } from 'pino'
import {
  BlobNotFoundError,
  ManifestInvalidError,
  ManifestNotFoundError,
  RegistryAuthError,
  RegistryError,
  RegistryUnreachableError,
} from '../errors.js'
import { MAX_MANIFEST_BYTES, REQUEST_TIMEOUT_MS } from './constants.js'
import { type Digest, digestOf } from './digest.js'
import { type Descriptor, MANIFEST_ACCEPT, type Platform, parseManifest, pickPlatform } from './manifest.js'
import { apiHost, formatReference, type ImageReference } from './reference.js'
import type { RegistryConfig } from './registry-config.js'

/** An image resolved at its origin: from here on everything is content-addressed. */
export interface ResolvedImage {
  reference: ImageReference
  /** Digest of the platform manifest (what `repo@digest` names for this platform). */
  manifestDigest: Digest
  manifestBytes: Uint8Array
  manifestMediaType: string
  config: Descriptor
  layers: Descriptor[]
}

interface Challenge {
  scheme: 'bearer' | 'basic'
  params: Record<string, string>
}

export class RegistryClient {
  /** Bearer tokens by registry and scope. */
  private readonly tokens = new Map<string, string>()

  constructor(
    private readonly config: RegistryConfig,
    private readonly log: Logger,
  ) {}

  /** Resolves a tag (or digest) to the manifest for `platform`, following an index if there is one. */
  async resolve(ref: ImageReference, platform: Platform): Promise<ResolvedImage> {
    const first = await this.fetchManifest(ref, ref.digest ?? ref.tag ?? 'latest')
    if (ref.digest !== undefined && first.digest !== ref.digest) {
      throw new ManifestInvalidError(
        `the registry's manifest for ${formatReference(ref)} has digest ${first.digest}`,
      )
    }
    let manifest = first
    let parsed = parseManifest(first.bytes, first.mediaType)
    if (parsed.kind === 'index') {
      const entry = pickPlatform(parsed.index, platform)
      manifest = await this.fetchManifest(ref, entry.digest)
      if (manifest.digest !== entry.digest) {
        throw new ManifestInvalidError(`manifest ${entry.digest} arrived with digest ${manifest.digest}`)
      }
      parsed = parseManifest(manifest.bytes, manifest.mediaType)
      if (parsed.kind === 'index') throw new ManifestInvalidError('an index points to another index')
    }
    return {
      reference: ref,
      manifestDigest: manifest.digest,
      manifestBytes: manifest.bytes,
      manifestMediaType:
        parsed.manifest.mediaType ?? manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json',
      config: parsed.manifest.config,
      layers: parsed.manifest.layers,
    }
  }

  /** Streams a blob from `offset`; the caller verifies the digest. */
  async fetchBlob(
    ref: ImageReference,
    digest: Digest,
    options: { offset?: number; signal?: AbortSignal } = {},
  ): Promise<{ body: Readable; length: number | undefined }> {
    const headers: Record<string, string> = {}
    if (options.offset !== undefined && options.offset > 0) headers.range = `bytes=${options.offset}-`
    const res = await this.request(ref, `/blobs/${digest}`, headers, options.signal)
    if (res.status === 404) throw new BlobNotFoundError(`${formatReference(ref)} has no blob ${digest}`)
    if (res.status !== 200 && res.status !== 206) throw this.statusError(res.status, `blob ${digest}`)
    if (options.offset !== undefined && options.offset > 0 && res.status !== 206) {
      throw new RegistryError(`the registry ignored a range request for ${digest}`)
    }
    const length = res.headers.get('content-length')
    return {
      body: Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>),
      length: length === null ? undefined : Number(length),
    }
  }

  private async fetchManifest(
    ref: ImageReference,
    reference: string,
  ): Promise<{ bytes: Uint8Array; digest: Digest; mediaType: string | null }> {
    const res = await this.request(ref, `/manifests/${reference}`, { accept: MANIFEST_ACCEPT })
    if (res.status === 404) {
      throw new ManifestNotFoundError(`${formatReference(ref)} not found (no manifest "${reference}")`)
    }
    if (res.status !== 200) throw this.statusError(res.status, `manifest ${reference}`)
    const declared = Number(res.headers.get('content-length') ?? 0)
    if (declared > MAX_MANIFEST_BYTES) {
      await res.body?.cancel()
      throw new ManifestInvalidError(`the manifest is ${declared} bytes; the limit is ${MAX_MANIFEST_BYTES}`)
    }
    const chunks: Uint8Array[] = []
    let total = 0
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.length
      if (total > MAX_MANIFEST_BYTES)
        throw new ManifestInvalidError(`the manifest exceeds ${MAX_MANIFEST_BYTES} bytes`)
      chunks.push(chunk)
    }
    const bytes = Buffer.concat(chunks)
    return { bytes, digest: digestOf(bytes), mediaType: res.headers.get('content-type') }
  }

  /** One API request, answering an auth challenge once if the registry sends one. */
  private async request(
    ref: ImageReference,
    path: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Response> {
    const url = `${this.baseUrl(ref.registry)}/v2/${ref.repository}${path}`
    const scope = `repository:${ref.repository}:pull`
    const cached = this.tokens.get(`${ref.registry} ${scope}`)
    let res = await this.send(
      url,
      cached === undefined ? headers : { ...headers, authorization: cached },
      signal,
    )
    if (res.status !== 401) return res
    await res.body?.cancel()
    const authorization = await this.answerChallenge(ref.registry, scope, res.headers.get('www-authenticate'))
    this.tokens.set(`${ref.registry} ${scope}`, authorization)
    res = await this.send(url, { ...headers, authorization }, signal)
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel()
      throw new RegistryAuthError(`${ref.registry} refused the credentials for ${ref.repository}`)
    }
    return res
  }

  /** One request; the timeout covers the answer's headers only, since a big blob may rightly take minutes. */
  private async send(url: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    const timeout = new AbortController()
    const timer = setTimeout(
      () =>
        timeout.abort(
          new RegistryUnreachableError(`${new URL(url).host} did not answer within ${REQUEST_TIMEOUT_MS} ms`),
        ),
      REQUEST_TIMEOUT_MS,
    )
    try {
      return await fetch(url, {
        headers,
        redirect: 'follow',
        signal: signal === undefined ? timeout.signal : AbortSignal.any([signal, timeout.signal]),
      })
    } catch (err) {
      if (signal?.aborted === true) throw err
      if (timeout.signal.aborted) throw timeout.signal.reason
      const cause = (err as { cause?: { code?: string; message?: string } }).cause
      throw new RegistryUnreachableError(
        `cannot reach ${new URL(url).host}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
        { cause: err },
      )
    } finally {
      clearTimeout(timer)
    }
  }

  private async answerChallenge(registry: string, scope: string, header: string | null): Promise<string> {
    const challenge = parseChallenge(header)
    const credentials = this.config.credentialsFor(registry)
    if (challenge?.scheme === 'basic') {
      if (credentials === undefined)
        throw new RegistryAuthError(`${registry} wants a login; add it to the registry config`)
      return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`
    }
    if (challenge?.scheme !== 'bearer' || challenge.params.realm === undefined) {
      throw new RegistryAuthError(`${registry} answered 401 without a usable challenge`)
    }
    const tokenUrl = new URL(challenge.params.realm)
    if (challenge.params.service !== undefined) tokenUrl.searchParams.set('service', challenge.params.service)
    tokenUrl.searchParams.set('scope', challenge.params.scope ?? scope)
    const headers: Record<string, string> = {}
    if (credentials !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`
    }
    const res = await this.send(tokenUrl.toString(), headers)
    if (res.status !== 200) {
      await res.body?.cancel()
      throw new RegistryAuthError(`the token service of ${registry} answered ${res.status}`)
    }
    const body = (await res.json()) as { token?: string; access_token?: string }
    const token = body.token ?? body.access_token
    if (typeof token !== 'string' || token.length === 0)
      throw new RegistryAuthError(`${registry} issued no token`)
    this.log.debug({ registry, scope }, 'obtained a registry token')
    return `Bearer ${token}`
  }

  /** HTTPS, except for loopback registries and those the config marks `insecure`. */
  private baseUrl(registry: string): string {
    return `${this.config.isPlainHttp(registry) ? 'http' : 'https'}://${apiHost(registry)}`
  }

  private statusError(status: number, what: string): Error {
    if (status === 401 || status === 403)
      return new RegistryAuthError(`the registry refused access to ${what}`)
    return new RegistryError(`the registry answered ${status} for ${what}`)
  }
}

/** Parses `Bearer realm="…",service="…",scope="…"` (or `Basic realm="…"`). */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (header === null) return undefined
  const match = /^\s*(\w+)\s*(.*)$/.exec(header)
  if (match === null) return undefined
  const scheme = match[1]!.toLowerCase()
  if (scheme !== 'bearer' && scheme !== 'basic') return undefined
  const params: Record<string, string> = {}
  for (const param of match[2]!.matchAll(/(\w+)="([^"]*)"/g)) params[param[1]!.toLowerCase()] = param[2]!
  return { scheme, params }
}
