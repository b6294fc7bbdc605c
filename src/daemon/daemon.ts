// The daemon root: opens the data directory, builds the parts, starts them in order and stops them in reverse.
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { type ApiServer, createApiServer, type DaemonFacts, isLoopbackHost } from '../api/index.js'
import {
  type Coordinator,
  coordinatorKinds,
  createCoordinator,
  leaseFence,
  NodeCollector,
} from '../coordinator/index.js'
import { createDockerEngine } from '../docker/index.js'
import { DataDirInUseError, DataDirUnusableError, InvalidFlagError, ShoalError } from '../errors.js'
import { createJobs, DEFAULT_JOB_POLICY, type Jobs, jobKinds } from '../jobs/index.js'
import { createLayers, type Layers, layerKinds } from '../layers/index.js'
import { createMembership, type Membership, membershipKinds } from '../membership/index.js'
import {
  createMesh,
  loadOrCreatePeerKey,
  loadOrCreateSwarmKey,
  type Mesh,
  type SwarmKey,
} from '../mesh/index.js'
import { createServices, type Services, serviceKinds } from '../services/index.js'
import { createReplicatedState, RecordStore, type ReplicatedState } from '../state/index.js'
import { createFileAtomically, removeLeftoverTempFiles } from '../util/atomic-file.js'
import { VERSION } from '../version.js'
import type { DaemonConfig } from './config.js'
import { dataDirPaths, MAX_SOCKET_PATH_BYTES, restrictToOwner } from './data-dir.js'

/** A long-lived part: the daemon starts them in order and stops those that started in reverse. */
interface Service {
  start(): Promise<void>
  stop(): Promise<void>
}

/** The parts of a running daemon, each reachable for the API, tests and benchmarks. */
export interface DaemonParts {
  swarmKey: SwarmKey
  store: RecordStore
  mesh: Mesh
  state: ReplicatedState
  membership: Membership
  coordinator: Coordinator
  layers: Layers
  jobs: Jobs
  services: Services
  api: ApiServer
  nodeCollector: NodeCollector
  metrics: Registry
  facts: DaemonFacts
}

export class Daemon {
  readonly swarmKey: SwarmKey
  readonly store: RecordStore
  readonly mesh: Mesh
  readonly state: ReplicatedState
  readonly membership: Membership
  readonly coordinator: Coordinator
  readonly layers: Layers
  readonly jobs: Jobs
  readonly services: Services
  readonly api: ApiServer
  readonly metrics: Registry
  readonly facts: DaemonFacts
  private stopping: Promise<void> | undefined

  private constructor(
    readonly config: DaemonConfig,
    parts: DaemonParts,
    /** The services that started, in the order they started. */
    private readonly started: Service[],
    private readonly log: Logger,
  ) {
    this.swarmKey = parts.swarmKey
    this.store = parts.store
    this.mesh = parts.mesh
    this.state = parts.state
    this.membership = parts.membership
    this.coordinator = parts.coordinator
    this.layers = parts.layers
    this.jobs = parts.jobs
    this.services = parts.services
    this.api = parts.api
    this.metrics = parts.metrics
    this.facts = parts.facts
  }

  get peerId(): string {
    return this.mesh.peerId
  }

  /** Opens the data directory, builds every part and starts them; on failure, stops what started. */
  static async start(config: DaemonConfig, logger: Logger): Promise<Daemon> {
    const paths = dataDirPaths(config.dataDir)
    await prepareDataDir(config.dataDir, paths.socket, config.api.socketGid, logger)
    const store = await openStore(paths.store, paths.pid)
    const started: Service[] = []
    try {
      // The store's lock is ours now: no other daemon is writing files here.
      await removeLeftoverTempFiles(config.dataDir)
      await writeFile(paths.pid, `${process.pid}\n`)
      await rm(paths.socket, { force: true }) // left behind by a daemon that was killed
      const parts = await buildParts(config, store, logger)
      const { membership, coordinator, layers, jobs, nodeCollector, api } = parts
      const services = { start: () => parts.services.open(), stop: () => parts.services.close() }
      for (const service of [
        replication(parts),
        membership,
        coordinator,
        layers,
        jobs,
        services,
        nodeCollector,
        api,
      ]) {
        await service.start()
        started.push(service)
      }
      const daemon = new Daemon(config, parts, started, logger.child({ name: 'shoal:daemon' }))
      daemon.announce()
      return daemon
    } catch (err) {
      await stopInReverse(started, (stopErr) =>
        logger.warn({ err: (stopErr as Error).message }, 'part failed to stop'),
      )
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

  /** Stops every part in reverse order: API, jobs, layers, coordinator, membership (announces `left`), state, mesh, store. */
  stop(): Promise<void> {
    this.stopping ??= this.stopParts()
    return this.stopping
  }

  private async stopParts(): Promise<void> {
    const errors: unknown[] = []
    await stopInReverse(this.started, (err) => errors.push(err))
    await this.store.close().catch((err: unknown) => errors.push(err))
    await rm(dataDirPaths(this.config.dataDir).pid, { force: true })
    this.log.info('shoal daemon stopped')
    if (errors.length > 0) throw new AggregateError(errors, 'some parts failed to stop cleanly')
  }
}

/** Builds every part from the config, each with the narrow components it uses; nothing starts here. */
async function buildParts(config: DaemonConfig, store: RecordStore, logger: Logger): Promise<DaemonParts> {
  const policy = config.jobs.policy ?? DEFAULT_JOB_POLICY
  const paths = dataDirPaths(config.dataDir)
  const privateKey = await loadOrCreatePeerKey(paths.peerKey)
  const swarmKey = await loadOrCreateSwarmKey(config.dataDir, config.swarmKeyFile)
  const metrics = new Registry()
  // Process metrics (memory, CPU, event-loop lag, GC) under the usual nodejs_/process_ names. The lag
  // histogram samples every 10 ms by default; once a second is plenty, and keeps an idle daemon asleep.
  collectDefaultMetrics({ register: metrics, eventLoopMonitoringPrecision: 1_000 })
  const { clock } = config
  const mesh = await createMesh({ logger, metrics }, { ...config.mesh, privateKey, swarmKey })
  const state = createReplicatedState(
    { mesh, store, logger, metrics },
    {
      ...config.state,
      clock,
      kinds: [
        ...membershipKinds,
        ...coordinatorKinds,
        ...layerKinds,
        ...jobKinds,
        ...serviceKinds,
        ...(config.extraKinds ?? []),
      ],
      fence: leaseFence,
    },
  )
  const docker = createDockerEngine({ socketPath: config.dockerSocket })
  const membership = createMembership(
    { state, mesh, docker, logger, metrics },
    {
      ...config.membership,
      dataDir: config.dataDir,
      name: config.name,
      version: VERSION,
      coordinatorEligible: config.coordinator.eligible,
      drivers: policy.drivers,
      hostNetwork: policy.allowHostNetwork,
      clock,
    },
  )
  const coordinator = createCoordinator(
    { state, membership, mesh, logger, metrics },
    { ...config.coordinator, name: config.name, clock },
  )
  membership.showCoordinator(() => coordinator.holder())
  const layers = createLayers(
    { state, mesh, membership, docker, logger, metrics },
    {
      ...config.layers,
      dataDir: config.dataDir,
      swarmKey: swarmKey.bytes,
      blobHost: listenHost(config.mesh.listen),
    },
  )
  const jobs = createJobs(
    { state, mesh, membership, coordinator, layers, docker, logger, metrics },
    { ...config.jobs, dataDir: config.dataDir, clock },
  )
  const services = createServices(
    { state, mesh, membership, coordinator, layers, jobs, docker, logger, metrics },
    { ...config.services, dataDir: config.dataDir, clock, logMaxBytes: config.jobs.logMaxBytes },
  )
  jobs.shareNodesWith((node) => services.reserved(node))
  const nodeCollector = new NodeCollector(
    { state, coordinator, membership, owners: [membership, layers, services], logger },
    config.nodeCollector,
  )
  const facts: DaemonFacts = {
    dataDir: config.dataDir,
    version: VERSION,
    name: config.name,
    startedAt: Date.now(),
    swarmKeyFingerprint: swarmKey.fingerprint,
  }
  const { httpHost } = config.api
  const api = createApiServer(
    { state, membership, coordinator, layers, jobs, services, mesh, metrics, logger },
    {
      ...config.api,
      socketPath: paths.socket,
      token: isLoopbackHost(httpHost) ? undefined : await loadOrCreateToken(paths.httpToken, logger),
      facts,
    },
  )
  return {
    swarmKey,
    store,
    mesh,
    state,
    membership,
    coordinator,
    layers,
    jobs,
    services,
    api,
    nodeCollector,
    metrics,
    facts,
  }
}

/**
 * The state and the mesh as one service: the state loads the store and registers its topic and protocol
 * before the mesh accepts anyone, and sends its last gossip (membership's `left` notice) before the mesh
 * closes.
 */
function replication({ state, mesh }: DaemonParts): Service {
  return {
    async start() {
      await state.start()
      try {
        await mesh.start()
      } catch (err) {
        await state.stop()
        throw err
      }
    },
    async stop() {
      await state.stop()
      await mesh.stop()
    },
  }
}

/** Stops services in the reverse of the order they started, reporting each failure and going on. */
async function stopInReverse(started: readonly Service[], failed: (err: unknown) => void): Promise<void> {
  for (const service of [...started].reverse()) await service.stop().catch(failed)
}

/** The IP of the first listen multiaddr (`0.0.0.0` by default): the blob channel listens there too. */
function listenHost(listen: readonly string[]): string {
  const match = /^\/ip[46]\/([^/]+)\//.exec(listen[0] ?? '')
  return match?.[1] ?? '0.0.0.0'
}

async function prepareDataDir(
  dataDir: string,
  socketPath: string,
  socketGid: number | undefined,
  logger: Logger,
): Promise<void> {
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
  // mkdir's mode applies only to a directory it creates: one that existed keeps its mode unless we change it.
  const tightened = await restrictToOwner(dataDir, socketGid)
  if (tightened !== undefined) {
    logger.warn(
      { dataDir, was: `0${tightened.was.toString(8)}`, now: `0${tightened.now.toString(8)}` },
      'tightened the data directory to its owner only: it holds the peer key, the swarm key and credentials',
    )
  }
}

async function openStore(storePath: string, pidPath: string): Promise<RecordStore> {
  try {
    return await RecordStore.open(storePath)
  } catch (err) {
    if (!(err instanceof ShoalError) || err.code !== DataDirInUseError.code) throw err
    const pid = await readPid(pidPath)
    throw new DataDirInUseError(
      `data directory ${storePath.replace(/\/state$/, '')} is in use by another shoal daemon${pid === '' ? '' : ` (pid ${pid})`}`,
      { cause: err },
    )
  }
}

/** The pid a running daemon wrote, or '' if there is no readable pid file (it is only for the message). */
async function readPid(pidPath: string): Promise<string> {
  try {
    return (await readFile(pidPath, 'utf8')).trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return ''
    throw err
  }
}

async function loadOrCreateToken(path: string, logger: Logger): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const token = randomBytes(24).toString('hex')
  try {
    await createFileAtomically(path, `${token}\n`)
  } catch (err) {
    // Created by another process meanwhile: that token is the one clients were given.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateToken(path, logger)
    throw err
  }
  logger.info(
    { path },
    'created an HTTP token; clients off loopback send it as "Authorization: Bearer <token>"',
  )
  return token
}
