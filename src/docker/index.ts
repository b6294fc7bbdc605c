// The Docker engine behind a small face, so parts depend on what they use and tests can pass a stub.
import { request } from 'node:http'
import type { Readable } from 'node:stream'
import type Dockerode from 'dockerode'
import { DockerApiError, DockerUnavailableError } from '../errors.js'

export interface DockerImage {
  id: string
  tags: string[]
}

export interface DockerEngine {
  /** The socket the engine is reached at, for logs and status. */
  readonly endpoint: string
  /** True if the engine answers GET /_ping within the timeout. */
  ping(timeoutMs?: number): Promise<boolean>
  /** Images in the engine. */
  listImages(): Promise<DockerImage[]>
  /** True if the engine knows an image by this reference (its own name rules: `busybox` is `docker.io/library/busybox:latest`). */
  hasImage(ref: string): Promise<boolean>
  /** `docker load` of an image archive; resolves when the engine has it. */
  loadImage(archive: Readable): Promise<void>
  /** The dockerode client (loaded on first use), for parts that run containers. */
  client(): Promise<Dockerode>
}

export interface DockerEngineInit {
  /** A unix socket path; else DOCKER_HOST (unix:// only); else /var/run/docker.sock. */
  socketPath?: string
}

/** Where the engine is, from the flag, else DOCKER_HOST (unix:// only), else the usual socket. */
export function dockerSocketPath(init: DockerEngineInit, env: NodeJS.ProcessEnv = process.env): string {
  if (init.socketPath !== undefined) return init.socketPath
  const host = env.DOCKER_HOST
  if (host?.startsWith('unix://') === true) return host.slice('unix://'.length)
  return '/var/run/docker.sock'
}

function getJson(socketPath: string, path: string, timeoutMs = 10_000): Promise<unknown> {
  return get(socketPath, path, timeoutMs).then(({ status, body }) => {
    if (status !== 200) throw new DockerApiError(`GET ${path} answered ${status}`)
    return JSON.parse(body.toString('utf8'))
  })
}

function get(socketPath: string, path: string, timeoutMs: number): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
    })
    req.on('timeout', () => req.destroy(new DockerApiError(`GET ${path} timed out`)))
    req.on('error', reject)
    req.end()
  })
}

/**
 * Reachability is probed with a bare GET /_ping rather than through dockerode, which costs ~23 MiB of
 * memory to load; the parts that run containers load dockerode when they first need it.
 */
export function createDockerEngine(init: DockerEngineInit = {}): DockerEngine {
  const socketPath = dockerSocketPath(init)
  let dockerode: Promise<Dockerode> | undefined
  const client = (): Promise<Dockerode> => {
    dockerode ??= import('dockerode').then(({ default: Docker }) => new Docker({ socketPath }))
    return dockerode
  }
  const unavailable = (err: unknown): never => {
    throw new DockerUnavailableError(`the Docker engine at ${socketPath} failed: ${(err as Error).message}`, {
      cause: err,
    })
  }
  return {
    endpoint: `unix://${socketPath}`,
    client,
    // A bare GET too: listing at every start must not load dockerode into a daemon that never runs a container.
    async listImages() {
      const images = (await getJson(socketPath, '/images/json').catch(unavailable)) as Array<{
        Id: string
        RepoTags?: string[] | null
      }>
      return images.map((image) => ({ id: image.Id, tags: image.RepoTags ?? [] }))
    },
    // One lookup by name instead of listing every image the engine holds.
    async hasImage(ref) {
      const { status } = await get(socketPath, `/images/${encodeURI(ref)}/json`, 10_000).catch(unavailable)
      if (status === 200) return true
      if (status === 404) return false
      return unavailable(new DockerApiError(`image lookup answered ${status}`))
    },
    async loadImage(archive) {
      const docker = await client()
      const output = await docker.loadImage(archive).catch(unavailable)
      // The engine reports progress and errors in a JSON stream; wait for it to end, and surface an error.
      await new Promise<void>((resolve, reject) => {
        docker.modem.followProgress(output, (err: Error | null, events: Array<{ error?: string }>) => {
          const failed = err ?? events.find((event) => event.error !== undefined)?.error
          if (failed) reject(new DockerUnavailableError(`docker load failed: ${String(failed)}`))
          else resolve()
        })
      })
    },
    ping(timeoutMs = 1_000) {
      return new Promise((resolve) => {
        const req = request({ socketPath, path: '/_ping', timeout: timeoutMs }, (res) => {
          res.resume()
          resolve(res.statusCode === 200)
        })
        // No socket, refused, permission denied or too slow: all mean "not reachable", an answer, not an error.
        req.on('timeout', () => req.destroy())
        req.on('error', () => resolve(false))
        req.end()
      })
    },
  }
}
