// The daemon root: opens the data directory, builds the parts, starts them in order and stops them in reverse.
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { type ApiServer, createApiServer, type DaemonFacts, isLoopbackHost } from '../api/index.js'
import { type Coordinator, createCoordinator } from '../coordinator/index.js'
import { createDockerEngine } from '../docker/index.js'
import { DataDirInUseError, DataDirUnusableError, InvalidFlagError, ShoalError } from '../errors.js'
import { createJobs, type Jobs } from '../jobs/index.js'
import { createLayers, type Layers } from '../layers/index.js'
import { createMembership, type Membership } from '../membership/index.js'
import {
  createMesh,
  loadOrCreatePeerKey,
  loadOrCreateSwarmKey,
  type Mesh,
  type SwarmKey,
} from '../mesh/index.js'
import { createReplicatedState, RecordStore, type ReplicatedState } from '../state/index.js'
import { VERSION } from '../version.js'
import type { DaemonConfig } from './config.js'
import { dataDirPaths, MAX_SOCKET_PATH_BYTES } from './data-dir.js'

interface Startable {
  start(): Promise<void>
  stop(): Promise<void>
}

export class Daemon {
  private stopping: Promise<void> | undefined

  private constructor(
    readonly config: DaemonConfig,
    readonly swarmKey: SwarmKey,
    readonly store: RecordStore,
    readonly mesh: Mesh,
    readonly state: ReplicatedState,
    readonly membership: Membership,
    readonly coordinator: Coordinator,
    readonly layers: Layers,
    readonly jobs: Jobs,
    readonly api: ApiServer,
    readonly metrics: Registry,
    readonly facts: DaemonFacts,
    /** Parts in the order they stop (see start()); only those that started. */
    private readonly stopSequence: Startable[],
    private readonly log: Logger,
  ) {}

  get peerId(): string {
    return this.mesh.peerId
  }

  /** Opens the data directory, builds every part and starts them; on failure, stops what started. */
  static async start(config: DaemonConfig, logger: Logger): Promise<Daemon> {
    const paths = dataDirPaths(config.dataDir)
    await prepareDataDir(config.dataDir, paths.socket)
    const store = await openStore(paths.store, paths.pid)
    let stopSequence: Startable[] = []
    try {
      await writeFile(paths.pid, `${process.pid}\n`)
      await rm(paths.socket, { force: true }) // left behind by a daemon that was killed
      const privateKey = await loadOrCreatePeerKey(paths.peerKey)
      const swarmKey = await loadOrCreateSwarmKey(config.dataDir, config.swarmKeyFile)
      const metrics = new Registry()
      // Process metrics (memory, CPU, event-loop lag, GC) under the usual nodejs_/process_ names. The lag
      // histogram samples every 10 ms by default; every 200 ms is plenty and costs nothing measurable idle.
      collectDefaultMetrics({ register: metrics, eventLoopMonitoringPrecision: 200 })
      const tuning = config.tuning ?? {}
      const mesh = await createMesh(
        { logger, metrics },
        {
          privateKey,
          swarmKey,
          listen: config.listen,
          bootstrap: config.bootstrap,
          mdns: config.mdns,
          targetConnections: tuning.targetConnections,
        },
      )
      const state = createReplicatedState(
        { mesh, store, logger, metrics },
        {
          clock: tuning.clock,
          syncIntervalMs: tuning.syncIntervalMs,
          tombstoneTtlMs: tuning.tombstoneTtlMs,
          tombstoneGcIntervalMs: tuning.tombstoneGcIntervalMs,
        },
      )
      for (const kind of tuning.extraKinds ?? []) state.registerKind(kind)
      const docker = createDockerEngine({ socketPath: config.dockerSocket })
      const membership = createMembership(
        { state, mesh, docker, logger, metrics },
        {
          dataDir: config.dataDir,
          name: config.name,
          labels: config.labels,
          version: VERSION,
          coordinatorEligible: config.coordinator,
          heartbeatIntervalMs: tuning.heartbeatIntervalMs,
          suspectAfterMs: tuning.suspectAfterMs,
          deadAfterMs: tuning.deadAfterMs,
        },
      )
      const coordinator = createCoordinator(
        { state, membership, mesh, logger, metrics },
        {
          name: config.name,
          eligible: config.coordinator,
          leaseMs: tuning.leaseMs,
          renewEveryMs: tuning.renewEveryMs,
          clock: tuning.clock,
        },
      )
      membership.showCoordinator(() => coordinator.holder())
      const layers = createLayers(
        { state, mesh, membership, docker, logger, metrics },
        {
          dataDir: config.dataDir,
          swarmKey: swarmKey.bytes,
          storeMaxBytes: config.storeMaxBytes,
          blobHost: listenHost(config.listen),
          blobPort: config.blobPort,
          registryConfigFile: config.registryConfigFile,
          mirrorUpstream: config.mirrorUpstream,
          claimSettleMs: tuning.claimSettleMs,
        },
      )
      const jobs = createJobs(
        { state, mesh, membership, coordinator, layers, docker, logger, metrics },
        {
          dataDir: config.dataDir,
          clock: tuning.clock,
          retentionMs: config.jobRetentionMs,
          collectIntervalMs: tuning.jobCollectIntervalMs,
          startTimeoutMs: tuning.jobStartTimeoutMs,
        },
      )
      const facts: DaemonFacts = {
        dataDir: config.dataDir,
        version: VERSION,
        name: config.name,
        startedAt: Date.now(),
        swarmKeyFingerprint: swarmKey.fingerprint,
      }
      const api = createApiServer(
        { state, membership, coordinator, layers, jobs, mesh, metrics, logger },
        {
          socketPath: paths.socket,
          httpHost: config.httpHost,
          httpPort: config.httpPort,
          token: isLoopbackHost(config.httpHost)
            ? undefined
            : await loadOrCreateToken(paths.httpToken, logger),
          facts,
        },
      )
      // State starts first: it loads the store and registers its protocol and topic before the mesh
      // accepts anyone. It stops before the mesh, though, so its last gossip (the `left` notice) goes out.
      const startSequence: Startable[] = [state, mesh, membership, coordinator, layers, jobs, api]
      const fullStopSequence: Startable[] = [api, jobs, layers, coordinator, membership, state, mesh]
      for (const part of startSequence) {
        await part.start()
        stopSequence = fullStopSequence.filter((p) => startSequence.indexOf(p) <= startSequence.indexOf(part))
      }
      const log = logger.child({ name: 'shoal:daemon' })
      const daemon = new Daemon(
        config,
        swarmKey,
        store,
        mesh,
        state,
        membership,
        coordinator,
        layers,
        jobs,
        api,
        metrics,
        facts,
        stopSequence,
        log,
      )
      daemon.announce()
      return daemon
    } catch (err) {
      for (const part of stopSequence) {
        await part
          .stop()
          .catch((stopErr: Error) => logger.warn({ err: stopErr.message }, 'part failed to stop'))
      }
      await store.close()
      await rm(paths.pid, { force: true })
      throw err
    }
  }

  private announce(): void {
    const { swarmKey, config } = this
    this.log.info(
      { peerId: this.peerId, name: config.name, dataDir: config.dataDir, http: this.api.httpUrl },
      'shoal daemon started',
    )
    if (swarmKey.created) {
      const addr = this.mesh.addresses().find((a) => !a.includes('/127.0.0.1/')) ?? this.mesh.addresses()[0]
      this.log.info(
        { swarmKey: swarmKey.path },
        `created a new swarm key at ${swarmKey.path}. To add another machine, copy that file to it and run: ` +
          `shoal daemon --swarm-key ./swarm.key --bootstrap ${addr ?? '<this node’s address>'}`,
      )
    }
  }

  /** Stops every part in reverse order: API, membership (announces `left`), state (flushes), mesh, store. */
  stop(): Promise<void> {
    this.stopping ??= this.stopParts()
    return this.stopping
  }

  private async stopParts(): Promise<void> {
    const errors: unknown[] = []
    for (const part of this.stopSequence) {
      await part.stop().catch((err: unknown) => errors.push(err))
    }
    await this.store.close().catch((err: unknown) => errors.push(err))
    await rm(dataDirPaths(this.config.dataDir).pid, { force: true })
    this.log.info('shoal daemon stopped')
    if (errors.length > 0) throw new AggregateError(errors, 'some parts failed to stop cleanly')
  }
}

/** The IP of the first listen multiaddr (`0.0.0.0` by default): the blob channel listens there too. */
function listenHost(listen: readonly string[]): string {
  const match = /^\/ip[46]\/([^/]+)\//.exec(listen[0] ?? '')
  return match?.[1] ?? '0.0.0.0'
}

async function prepareDataDir(dataDir: string, socketPath: string): Promise<void> {
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new InvalidFlagError(
      `the data directory path is too long for a unix socket (${socketPath} is over ${MAX_SOCKET_PATH_BYTES} bytes); choose a shorter --data-dir`,
    )
  }
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw new DataDirUnusableError(`cannot create data directory ${dataDir}: ${(err as Error).message}`, {
      cause: err,
    })
  }
}

async function openStore(storePath: string, pidPath: string): Promise<RecordStore> {
  try {
    return await RecordStore.open(storePath)
  } catch (err) {
    if (!(err instanceof ShoalError) || err.code !== DataDirInUseError.code) throw err
    const pid = (await readFile(pidPath, 'utf8').catch(() => '')).trim()
    throw new DataDirInUseError(
      `data directory ${storePath.replace(/\/state$/, '')} is in use by another shoal daemon${pid === '' ? '' : ` (pid ${pid})`}`,
      { cause: err },
    )
  }
}

async function loadOrCreateToken(path: string, logger: Logger): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const token = randomBytes(24).toString('hex')
  await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'wx' })
  logger.info(
    { path },
    'created an HTTP token; clients off loopback send it as "Authorization: Bearer <token>"',
  )
  return token
}
