// The Docker engine behind a small face, so parts depend on what they use and tests can pass a stub.
import { request } from 'node:http'

export interface DockerEngine {
  /** The socket the engine is reached at, for logs and status. */
  readonly endpoint: string
  /** True if the engine answers GET /_ping within the timeout. */
  ping(timeoutMs?: number): Promise<boolean>
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

/**
 * Reachability is probed with a bare GET /_ping rather than through dockerode, which costs ~23 MiB of
 * memory to load; the parts that run containers load dockerode when they first need it.
 */
export function createDockerEngine(init: DockerEngineInit = {}): DockerEngine {
  const socketPath = dockerSocketPath(init)
  return {
    endpoint: `unix://${socketPath}`,
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
