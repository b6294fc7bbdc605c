// In-process daemons on 127.0.0.1 with temp data directories: the real Daemon, mesh, LevelDB and API.
import { z } from 'zod'
import { Daemon, type DaemonConfig } from '../../src/daemon/index.js'
import { DEFAULT_JOB_RETENTION_MS } from '../../src/jobs/constants.js'
import type { JobPolicy } from '../../src/jobs/index.js'
import { createRootLogger } from '../../src/logger.js'
import { defineKind } from '../../src/state/index.js'
import { makeTempDir, removeDir } from './temp-dir.js'

/** A kind any node may write, for tests and benchmarks that need records of their own. */
export const testKind = defineKind<unknown>({ name: 'test', schema: z.unknown(), writer: 'any' })

/** A fenced kind: what a coordinator writes under its term (as job assignments will be). */
export const workKind = defineKind<unknown>({
  name: 'work',
  schema: z.unknown(),
  writer: 'any',
  fenced: true,
})

/**
 * Options of the parts beyond what flags set (timings tests shorten), by part, merged into each node's
 * config; `clock` replaces the wall clock every part reads.
 */
export interface Tuning {
  clock?: DaemonConfig['clock']
  state?: DaemonConfig['state']
  membership?: Partial<DaemonConfig['membership']>
  coordinator?: Partial<DaemonConfig['coordinator']>
  layers?: Partial<DaemonConfig['layers']>
  jobs?: Partial<DaemonConfig['jobs']>
  services?: Partial<DaemonConfig['services']>
  mesh?: Partial<DaemonConfig['mesh']>
  nodeCollector?: DaemonConfig['nodeCollector']
  api?: Partial<DaemonConfig['api']>
}

export interface NodeOptions {
  name: string
  dataDir?: string
  /** Use this node's swarm key (and, unless `bootstrap` is given, bootstrap to it). */
  join?: TestNode
  bootstrap?: string[]
  swarmKeyFile?: string
  tuning?: Tuning
  labels?: Record<string, string>
  /** Stands for the coordinator role. @default true */
  coordinator?: boolean
  storeMaxBytes?: number
  /** @default 24 h, as the daemon's */
  jobRetentionMs?: number
  mirrorUpstream?: string
  /** Docker engine socket; by default one that does not exist, so no test depends on the host's engine. */
  dockerSocket?: string
  /** The node's job policy (`--drivers`, `--allow-host-network`). @default docker and exec, no host network */
  policy?: JobPolicy
}

export interface TestNode {
  daemon: Daemon
  dataDir: string
  name: string
  stop(): Promise<void>
}

/** What test nodes run unless a test says otherwise: both drivers, as `--drivers docker,exec`. */
export const TEST_JOB_POLICY: JobPolicy = { drivers: { docker: true, exec: true }, allowHostNetwork: false }

const logLevel = (process.env.SHOAL_TEST_LOG_LEVEL ?? 'silent') as DaemonConfig['logLevel']

export async function startNode(options: NodeOptions): Promise<TestNode> {
  const dataDir = options.dataDir ?? (await makeTempDir(`shoal-${options.name}-`))
  const joinTo = options.join
  const tuning = options.tuning ?? {}
  const config: DaemonConfig = {
    dataDir,
    name: options.name,
    logLevel,
    dockerSocket: options.dockerSocket ?? `${dataDir}/no-docker.sock`,
    clock: tuning.clock,
    extraKinds: [testKind, workKind],
    mesh: {
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: options.bootstrap ?? (joinTo === undefined ? [] : [joinTo.daemon.mesh.addresses()[0]!]),
      mdns: false,
      ...tuning.mesh,
    },
    state: tuning.state,
    membership: { labels: options.labels ?? {}, ...tuning.membership },
    coordinator: { eligible: options.coordinator ?? true, ...tuning.coordinator },
    layers: {
      storeMaxBytes: options.storeMaxBytes ?? 2 * 1024 ** 3,
      blobPort: 0,
      mirrorUpstream: options.mirrorUpstream ?? 'docker.io',
      ...tuning.layers,
    },
    jobs: {
      retentionMs: options.jobRetentionMs ?? DEFAULT_JOB_RETENTION_MS,
      // Tests run commands with the exec driver, which a daemon runs only when asked (`--drivers docker,exec`).
      policy: options.policy ?? TEST_JOB_POLICY,
      ...tuning.jobs,
    },
    services: { allowCheckoutMounts: false, ...tuning.services },
    nodeCollector: tuning.nodeCollector,
    api: { httpHost: '127.0.0.1', httpPort: 0, ...tuning.api },
  }
  const keyFile = options.swarmKeyFile ?? joinTo?.daemon.swarmKey.path
  if (keyFile !== undefined) config.swarmKeyFile = keyFile
  const daemon = await Daemon.start(
    config,
    createRootLogger({ level: logLevel, base: { node: options.name } }),
  )
  return { daemon, dataDir, name: options.name, stop: () => daemon.stop() }
}

/** N nodes in one mesh: the first creates the swarm key, the rest join through it. */
export async function startCluster(count: number, prefix = 'n', tuning?: Tuning): Promise<TestNode[]> {
  const first = await startNode({ name: `${prefix}0`, tuning })
  const rest = await Promise.all(
    Array.from({ length: count - 1 }, (_, i) =>
      startNode({ name: `${prefix}${i + 1}`, join: first, tuning }),
    ),
  )
  return [first, ...rest]
}

/** Stops nodes (ignoring ones already stopped) and removes their data directories. */
export async function destroyNodes(nodes: readonly TestNode[]): Promise<void> {
  await Promise.all(nodes.map((node) => node.stop()))
  await Promise.all(nodes.map((node) => removeDir(node.dataDir)))
}
