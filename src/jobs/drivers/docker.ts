// The docker driver: a container named after the job and attempt (so a start is idempotent), demuxed logs, removal.
import { createWriteStream } from 'node:fs'
import { finished } from 'node:stream/promises'
import type Dockerode from 'dockerode'
import type { DockerEngine } from '../../docker/index.js'
import { DockerUnavailableError, ImageNotFoundError } from '../../errors.js'
import { STOP_GRACE_MS } from '../constants.js'
import { type Execution, type Exit, exitReason, type JobDriver, type StartRequest } from './driver.js'

export interface DockerDriverInit {
  engine: DockerEngine
  /** True if the engine has an image (by reference). */
  hasImage(ref: string): Promise<boolean>
  /** Brings an image into the engine (through the mesh's layer sharing); throws if it cannot. */
  pullImage(ref: string): Promise<void>
}

export function containerName(jobId: string, attempt: number): string {
  return `shoal-${jobId}-${attempt}`
}

export function createDockerDriver(init: DockerDriverInit): JobDriver {
  return { name: 'docker', start: (request) => startContainer(init, request) }
}

async function startContainer(init: DockerDriverInit, request: StartRequest): Promise<Execution> {
  const { spec, attempt } = request
  if (!(await init.engine.ping())) {
    throw new DockerUnavailableError(`no Docker engine answers at ${init.engine.endpoint}`)
  }
  const docker = await init.engine.client()
  const name = containerName(spec.id, attempt)
  let container = docker.getContainer(name)
  let info = await container.inspect().catch((err: { statusCode?: number }) => {
    if (err.statusCode === 404) return undefined
    throw err
  })
  if (info === undefined) {
    const image = spec.image!
    if (!(await init.hasImage(image))) {
      try {
        await init.pullImage(image)
      } catch (err) {
        throw new ImageNotFoundError(
          `image ${image} is not in the engine and could not be pulled: ${(err as Error).message}`,
          { cause: err },
        )
      }
    }
    container = await docker.createContainer({
      name,
      Image: image,
      Cmd: spec.command.length > 0 ? spec.command : undefined,
      Env: Object.entries({ ...spec.env, ...request.env }).map(([key, value]) => `${key}=${value}`),
      WorkingDir: spec.workdir ?? undefined,
      Labels: { 'shoal.job': spec.id, 'shoal.attempt': String(attempt) },
      HostConfig: {
        NetworkMode: spec.network ?? 'none',
        NanoCpus: spec.resources.cpuMillis * 1_000_000,
        Memory: spec.resources.memory > 0 ? spec.resources.memory : undefined,
      },
    })
    info = await container.inspect()
  }
  if (info.State.Status === 'created') await container.start()
  // Waited for after the start (a created container counts as not running), and read from its start, so a
  // daemon that restarted and takes over a container rewrites the whole log.
  const waited = container.wait()
  const logStream = (await container.logs({
    follow: true,
    stdout: true,
    stderr: true,
  })) as NodeJS.ReadableStream
  const file = createWriteStream(request.logPath, { flags: 'w' })
  docker.modem.demuxStream(logStream, file, file)
  const logsDone = finished(logStream as NodeJS.ReadableStream).catch(() => undefined)
  const ended = (async (): Promise<Exit> => {
    const result = (await waited) as { StatusCode: number }
    await Promise.race([logsDone, new Promise((resolve) => setTimeout(resolve, 2_000))])
    file.end()
    await finished(file).catch(() => undefined)
    await removeContainer(container)
    return { exitCode: result.StatusCode, reason: exitReason(result.StatusCode, null) }
  })()
  return {
    pid: null,
    ended,
    async stop() {
      await container.stop({ t: Math.round(STOP_GRACE_MS / 1000) }).catch(() => undefined)
      await ended
    },
  }
}

async function removeContainer(container: Dockerode.Container): Promise<void> {
  await container.remove({ force: true }).catch(() => undefined)
}
