// In-process daemons on 127.0.0.1 with temp data directories: the real Daemon, mesh, LevelDB and API.
import { z } from 'zod'
import { Daemon, type DaemonConfig, type DaemonTuning } from '../../src/daemon/index.js'
import { DEFAULT_JOB_RETENTION_MS } from '../../src/jobs/constants.js'
import { createRootLogger } from '../../src/logger.js'
import type { RecordKind } from '../../src/state/index.js'
import { makeTempDir, removeDir } from './temp-dir.js'

/** A kind any node may write, for tests and benchmarks that need records of their own. */
export const testKind: RecordKind<unknown> = { name: 'test', schema: z.unknown(), writer: 'any' }

/** A fenced kind: what a coordinator writes under its term (as job assignments will be). */
export const workKind: RecordKind<unknown> = {
  name: 'work',
  schema: z.unknown(),
  writer: 'any',
  fenced: true,
}

export interface NodeOptions {
  name: string
  dataDir?: string
  /** Use this node's swarm key (and, unless `bootstrap` is given, bootstrap to it). */
  join?: TestNode
  bootstrap?: string[]
  swarmKeyFile?: string
  tuning?: DaemonTuning
  labels?: Record<string, string>
  /** Stands for the coordinator role. @default true */
  coordinator?: boolean
  storeMaxBytes?: number
  /** @default 24 h, as the daemon's */
  jobRetentionMs?: number
  mirrorUpstream?: string
  /** Docker engine socket; by default one that does not exist, so no test depends on the host's engine. */
  dockerSocket?: string
}

export interface TestNode {
  daemon: Daemon
  dataDir: string
  name: string
  stop(): Promise<void>
}

const logLevel = (process.env.SHOAL_TEST_LOG_LEVEL ?? 'silent') as DaemonConfig['logLevel']

export async function startNode(options: NodeOptions): Promise<TestNode> {
  const dataDir = options.dataDir ?? (await makeTempDir(`shoal-${options.name}-`))
  const joinTo = options.join
  const config: DaemonConfig = {
    dataDir,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: options.bootstrap ?? (joinTo === undefined ? [] : [joinTo.daemon.mesh.addresses()[0]!]),
    mdns: false,
    coordinator: options.coordinator ?? true,
    storeMaxBytes: options.storeMaxBytes ?? 2 * 1024 ** 3,
    jobRetentionMs: options.jobRetentionMs ?? DEFAULT_JOB_RETENTION_MS,
    blobPort: 0,
    mirrorUpstream: options.mirrorUpstream ?? 'docker.io',
    name: options.name,
    labels: options.labels ?? {},
    httpHost: '127.0.0.1',
    httpPort: 0,
    logLevel,
    tuning: { extraKinds: [testKind, workKind], ...options.tuning },
    dockerSocket: options.dockerSocket ?? `${dataDir}/no-docker.sock`,
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
export async function startCluster(count: number, prefix = 'n', tuning?: DaemonTuning): Promise<TestNode[]> {
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
