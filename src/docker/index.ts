// The Docker engine behind a small face, so parts depend on what they use and tests can pass a stub.
import Docker from 'dockerode'

export interface DockerEngine {
  /** The socket or URL the engine is reached at, for logs and status. */
  readonly endpoint: string
  /** True if the engine answers /_ping within the timeout. */
  ping(timeoutMs?: number): Promise<boolean>
}

export interface DockerEngineInit {
  /** A unix socket path; else DOCKER_HOST; else /var/run/docker.sock. */
  socketPath?: string
}

/** Where the engine is, from the flag, else DOCKER_HOST (unix:// only), else the usual socket. */
export function dockerSocketPath(init: DockerEngineInit, env: NodeJS.ProcessEnv = process.env): string {
  if (init.socketPath !== undefined) return init.socketPath
  const host = env.DOCKER_HOST
  if (host?.startsWith('unix://') === true) return host.slice('unix://'.length)
  return '/var/run/docker.sock'
}

export function createDockerEngine(init: DockerEngineInit = {}): DockerEngine {
  const socketPath = dockerSocketPath(init)
  const docker = new Docker({ socketPath })
  return {
    endpoint: `unix://${socketPath}`,
    async ping(timeoutMs = 1_000) {
      const timeout = new Promise<false>((resolve) => setTimeout(resolve, timeoutMs, false).unref())
      const answer = docker.ping().then(
        () => true,
        // Not reachable (no socket, refused, permission denied) is an answer, not an error.
        () => false,
      )
      return Promise.race([answer, timeout])
    },
  }
}
