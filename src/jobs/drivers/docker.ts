// The docker driver: a container named after the job and attempt (so a start is idempotent), demuxed logs, removal.
import { createWriteStream } from 'node:fs'
import { finished } from 'node:stream/promises'
import type Dockerode from 'dockerode'
import type { Logger } from 'pino'
import type { DockerEngine } from '../../docker/index.js'
import { DockerUnavailableError, GpuRuntimeMissingError, ImageNotFoundError } from '../../errors.js'
import { CONTAINER_LOG_DRAIN_MS, STOP_GRACE_MS } from '../constants.js'
import { CappedLog } from './capped-log.js'
import { type Execution, type Exit, exitReason, type JobDriver, type StartRequest } from './driver.js'

export interface DockerDriverInit {
  engine: DockerEngine
  /** True if the engine has an image (by reference). */
  hasImage(ref: string): Promise<boolean>
  /** Brings an image into the engine (through the mesh's layer sharing); throws if it cannot. */
  pullImage(ref: string): Promise<void>
  /** Notes (at debug) the failures an attempt's outcome does not depend on: its log stream, stop and removal. */
  log: Logger
}

/** The engine's answer to a request that failed (dockerode sets the HTTP status). */
type EngineError = Error & { statusCode?: number }

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
  const name = request.containerName ?? containerName(spec.id, attempt)
  let container = docker.getContainer(name)
  let info = await container.inspect().catch((err: EngineError) => {
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
    container = await docker.createContainer(containerOptions(request, name))
    info = await container.inspect()
  }
  if (info.State.Status === 'created') {
    await container.start().catch(async (err: EngineError) => {
      // Never started: nothing to take over later, so it goes now.
      await removeContainer(container, init.log)
      if ((request.gpus?.length ?? 0) > 0 && /could not select device driver/.test(err.message)) {
        throw new GpuRuntimeMissingError(
          `the container asks for GPUs ${request.gpus!.join(',')}, and this node's Docker engine has no GPU ` +
            `runtime (install nvidia-container-toolkit): ${err.message}`,
          { cause: err },
        )
      }
      throw err
    })
  }
  // Waited for after the start (a created container counts as not running), and read from its start, so a
  // daemon that restarted and takes over a container rewrites the whole log.
  const waited = container.wait()
  const logStream = (await container.logs({
    follow: true,
    stdout: true,
    stderr: true,
  })) as NodeJS.ReadableStream
  const file = new CappedLog(createWriteStream(request.logPath, { flags: 'w' }), request.logMaxBytes)
  docker.modem.demuxStream(logStream, file, file)
  // The exit code comes from wait(); a log stream or file that fails only cuts the log short.
  const logsDone = finished(logStream as NodeJS.ReadableStream).catch((err: Error) =>
    init.log?.debug({ container: name, err: err.message }, 'the container log stream failed'),
  )
  const ended = (async (): Promise<Exit> => {
    const result = (await waited) as { StatusCode: number }
    let drainTimer: NodeJS.Timeout | undefined
    await Promise.race([
      logsDone,
      new Promise((resolve) => (drainTimer = setTimeout(resolve, CONTAINER_LOG_DRAIN_MS))),
    ])
    clearTimeout(drainTimer)
    file.end()
    await finished(file).catch((err: Error) =>
      init.log?.debug(
        { container: name, path: request.logPath, err: err.message },
        'could not write the job log',
      ),
    )
    await removeContainer(container, init.log)
    return { exitCode: result.StatusCode, reason: exitReason(result.StatusCode, null) }
  })()
  return {
    pid: null,
    ended,
    async stop() {
      await container.stop({ t: Math.round(STOP_GRACE_MS / 1000) }).catch((err: EngineError) => {
        // 304: stopped already; 404: gone already. Anything else: wait() still reports how it ended.
        if (err.statusCode === 304 || err.statusCode === 404) return
        init.log?.debug({ container: name, err: err.message }, 'could not stop a container')
      })
      await ended
    },
  }
}

/**
 * The engine's create request for an attempt. GPUs the attempt holds go in as a device request by index, as
 * `docker run --gpus device=0,1` sends it (the engine's GPU runtime picks the driver; inside, the container sees
 * them numbered from 0); on a node with GPUs, a container given none is told to see none
 * (NVIDIA_VISIBLE_DEVICES=void: images built on CUDA's ask for all of them).
 */
export function containerOptions(request: StartRequest, name: string): Dockerode.ContainerCreateOptions {
  const { spec, attempt } = request
  const gpus = request.gpus ?? []
  const hideGpus = request.gpus !== undefined && gpus.length === 0 ? { NVIDIA_VISIBLE_DEVICES: 'void' } : {}
  return {
    name,
    Image: spec.image!,
    Cmd: spec.command.length > 0 ? spec.command : undefined,
    Env: Object.entries({ ...spec.env, ...request.env, ...hideGpus }).map(
      ([key, value]) => `${key}=${value}`,
    ),
    WorkingDir: spec.workdir ?? undefined,
    Labels: request.labels ?? { 'shoal.job': spec.id, 'shoal.attempt': String(attempt) },
    HostConfig: {
      NetworkMode: spec.network ?? 'none',
      Binds: request.binds,
      NanoCpus: spec.resources.cpuMillis * 1_000_000,
      Memory: spec.resources.memory > 0 ? spec.resources.memory : undefined,
      ...(gpus.length > 0
        ? {
            DeviceRequests: [
              { Driver: '', Count: 0, DeviceIDs: gpus.map(String), Capabilities: [['gpu']], Options: {} },
            ],
          }
        : {}),
    },
  }
}

async function removeContainer(container: Dockerode.Container, log: Logger | undefined): Promise<void> {
  await container.remove({ force: true }).catch((err: EngineError) => {
    // 404: gone already; 409: a removal is under way already.
    if (err.statusCode === 404 || err.statusCode === 409) return
    // The attempt has ended either way; the container is left for the engine's owner to remove.
    log?.debug({ container: container.id, err: err.message }, 'could not remove a container')
  })
}
