// The Docker engine behind a small face, so parts depend on what they use and tests can pass a stub.
import { request } from 'node:http'
import type { Readable } from 'node:stream'
import type Dockerode from 'dockerode'
import { DockerUnavailableError } from '../errors.js'

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
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${path} answered ${res.statusCode}`))
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')))
        } catch (err) {
          reject(err as Error)
        }
      })
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)))
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
