// Daemon configuration: flags and environment in, a validated DaemonConfig out (every problem a SHOAL_INVALID_FLAG).
import os from 'node:os'
import { multiaddr } from '@multiformats/multiaddr'
import type { LevelWithSilent } from 'pino'
import { InvalidFlagError } from '../errors.js'
import { DEFAULT_JOB_RETENTION_MS } from '../jobs/constants.js'
import { DEFAULT_BLOB_PORT, DEFAULT_STORE_MAX_BYTES } from '../layers/constants.js'
import { DOCKER_HUB } from '../layers/reference.js'
import { LOG_LEVELS } from '../logger.js'
import { DEFAULT_LISTEN } from '../mesh/constants.js'
import type { RecordKind, WallClock } from '../state/index.js'
import { parseDuration, parseLabels, parsePort, parseSize } from '../util/parse.js'
import { resolveDataDir } from './data-dir.js'

/** Default HTTP port (web page, /metrics, read-only API), next to the p2p port. */
export const DEFAULT_HTTP_PORT = 7421

export interface DaemonConfig {
  dataDir: string
  /** A swarm key file to use instead of <dataDir>/swarm.key. */
  swarmKeyFile?: string
  listen: string[]
  bootstrap: string[]
  mdns: boolean
  /** Stands for the coordinator role (`--no-coordinator` says no). */
  coordinator: boolean
  name: string
  labels: Record<string, string>
  httpHost: string
  httpPort: number
  /** Docker engine socket; else DOCKER_HOST; else /var/run/docker.sock. */
  dockerSocket?: string
  /** Cap on the content store in bytes. */
  storeMaxBytes: number
  /** Finished jobs are deleted this long after they end; 0 keeps them. */
  jobRetentionMs: number
  /** Blob channel port (0 = any); it listens on the host of the first --listen address. */
  blobPort: number
  registryConfigFile?: string
  /** Registry the mirror maps names it does not know to. */
  mirrorUpstream: string
  logLevel: LevelWithSilent
  /** Test and tuning hooks; not flags. */
  tuning?: DaemonTuning
}

export interface DaemonTuning {
  clock?: WallClock
  heartbeatIntervalMs?: number
  suspectAfterMs?: number
  deadAfterMs?: number
  syncIntervalMs?: number
  tombstoneTtlMs?: number
  tombstoneGcIntervalMs?: number
  targetConnections?: number
  leaseMs?: number
  renewEveryMs?: number
  claimSettleMs?: number
  /** How often the coordinator looks for finished jobs past their retention. */
  jobCollectIntervalMs?: number
  /** How long an assignment may go unstarted, with room on its node, before it is moved. */
  jobStartTimeoutMs?: number
  /** Extra record kinds to register (tests and benchmarks write their own kinds). */
  extraKinds?: RecordKind[]
}

/** What `shoal daemon` hands over from its flags (strings as typed, before validation). */
export interface DaemonFlags {
  dataDir?: string
  swarmKey?: string
  listen?: string[]
  bootstrap?: string[]
  mdns?: boolean
  coordinator?: boolean
  name?: string
  label?: string[]
  httpHost?: string
  httpPort?: string
  dockerSocket?: string
  storeMax?: string
  jobRetention?: string
  blobPort?: string
  registryConfig?: string
  mirrorUpstream?: string
  logLevel?: string
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/

export function resolveDaemonConfig(flags: DaemonFlags, env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const name = flags.name ?? os.hostname()
  if (!NAME.test(name)) {
    throw new InvalidFlagError(`--name "${name}" must be 1-63 letters, digits, dots, dashes or underscores`)
  }
  const logLevel = flags.logLevel ?? env.SHOAL_LOG_LEVEL ?? 'info'
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new InvalidFlagError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`)
  }
  const listen = flags.listen !== undefined && flags.listen.length > 0 ? flags.listen : DEFAULT_LISTEN
  const config: DaemonConfig = {
    dataDir: resolveDataDir(flags.dataDir, env),
    listen: [...listen],
    bootstrap: [...(flags.bootstrap ?? [])],
    mdns: flags.mdns ?? true,
    coordinator: flags.coordinator ?? true,
    name,
    labels: parseLabels(flags.label ?? []),
    httpHost: flags.httpHost ?? '127.0.0.1',
    httpPort: flags.httpPort === undefined ? DEFAULT_HTTP_PORT : parsePort(flags.httpPort, '--http-port'),
    storeMaxBytes:
      flags.storeMax === undefined ? DEFAULT_STORE_MAX_BYTES : parseSize(flags.storeMax, '--store-max'),
    jobRetentionMs:
      flags.jobRetention === undefined
        ? DEFAULT_JOB_RETENTION_MS
        : parseDuration(flags.jobRetention, '--job-retention'),
    blobPort: flags.blobPort === undefined ? DEFAULT_BLOB_PORT : parsePort(flags.blobPort, '--blob-port'),
    mirrorUpstream: flags.mirrorUpstream ?? DOCKER_HUB,
    logLevel: logLevel as LevelWithSilent,
  }
  for (const [flag, addrs] of [
    ['--listen', config.listen],
    ['--bootstrap', config.bootstrap],
  ] as const) {
    for (const addr of addrs) checkMultiaddr(flag, addr)
  }
  if (flags.swarmKey !== undefined) config.swarmKeyFile = flags.swarmKey
  if (flags.dockerSocket !== undefined) config.dockerSocket = flags.dockerSocket
  if (flags.registryConfig !== undefined) config.registryConfigFile = flags.registryConfig
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(config.mirrorUpstream)) {
    throw new InvalidFlagError(`--mirror-upstream "${config.mirrorUpstream}" is not a registry host[:port]`)
  }
  return config
}

function checkMultiaddr(flag: string, addr: string): void {
  try {
    const parts = multiaddr(addr).getComponents()
    if (!parts.some((part) => part.name === 'tcp')) throw new Error('no /tcp/<port> part')
  } catch (err) {
    throw new InvalidFlagError(
      `${flag} "${addr}" is not a TCP multiaddr like /ip4/192.0.2.1/tcp/7420 (${(err as Error).message})`,
      {
        cause: err,
      },
    )
  }
}
