// Daemon configuration: flags and environment in, a validated DaemonConfig out (every problem a SHOAL_INVALID_FLAG).
import os from 'node:os'
import { multiaddr } from '@multiformats/multiaddr'
import type { LevelWithSilent } from 'pino'
import { type ApiInit, canonicalHost, DEFAULT_MAX_EVENT_CLIENTS } from '../api/index.js'
import type { CoordinatorInit, NodeCollectorInit } from '../coordinator/index.js'
import { InvalidFlagError } from '../errors.js'
import { DEFAULT_JOB_LOG_MAX_BYTES, DEFAULT_JOB_RETENTION_MS } from '../jobs/constants.js'
import { DEFAULT_JOB_POLICY, DRIVER_NAMES, type JobInit, type JobPolicy } from '../jobs/index.js'
import { DEFAULT_BLOB_PORT, DEFAULT_STORE_MAX_BYTES } from '../layers/constants.js'
import type { LayersInit } from '../layers/index.js'
import { DOCKER_HUB } from '../layers/reference.js'
import { LOG_LEVELS } from '../logger.js'
import { type DeclaredGpus, MAX_GPU_MODEL_LENGTH, MAX_GPUS } from '../membership/gpus.js'
import type { MembershipInit } from '../membership/index.js'
import { DEFAULT_LISTEN } from '../mesh/constants.js'
import type { MeshInit } from '../mesh/index.js'
import type { AnyRecordKind, ReplicatedStateInit, WallClock } from '../state/index.js'
import { parseDuration, parseLabels, parsePort, parseSize } from '../util/parse.js'
import { resolveDataDir } from './data-dir.js'
import { resolveGroup } from './socket-group.js'

/** Default HTTP port (web page, /metrics, read-only API), next to the p2p port. */
export const DEFAULT_HTTP_PORT = 7421

/**
 * Everything a daemon is started with, shaped by part: each section is that part's options (its `XInit`) less
 * what the daemon derives itself (the data directory, keys, version, names). Flags fill it (resolveDaemonConfig);
 * tests and benchmarks build it directly, with the timing options a part documents.
 */
export interface DaemonConfig {
  dataDir: string
  /** This node's name (node records, the lease, logs). */
  name: string
  logLevel: LevelWithSilent
  /** A swarm key file to use instead of <dataDir>/swarm.key. */
  swarmKeyFile?: string
  /** Docker engine socket; else DOCKER_HOST; else /var/run/docker.sock. */
  dockerSocket?: string
  /** The wall clock every part reads. @default the system clock */
  clock?: WallClock
  mesh: Omit<MeshInit, 'privateKey' | 'swarmKey'>
  state?: Omit<ReplicatedStateInit, 'kinds' | 'fence' | 'clock'>
  /** `drivers` and `hostNetwork` come from `jobs.policy` (membership advertises what the jobs part enforces). */
  membership: Omit<
    MembershipInit,
    'dataDir' | 'name' | 'version' | 'coordinatorEligible' | 'clock' | 'drivers' | 'hostNetwork'
  >
  /** `eligible` also goes into this node's record (membership advertises it). */
  coordinator: Omit<CoordinatorInit, 'name' | 'clock'>
  layers: Omit<LayersInit, 'dataDir' | 'swarmKey' | 'blobHost'>
  jobs: Omit<JobInit, 'dataDir' | 'clock'>
  /** The services part (its policy is the jobs part's). */
  services: { gitCredentialsFile?: string; allowCheckoutMounts: boolean }
  /** Removal of the records of nodes gone for good (on the coordinator). */
  nodeCollector?: NodeCollectorInit
  api: Pick<ApiInit, 'httpHost' | 'httpPort' | 'httpNames' | 'maxEventClients' | 'socketGid'>
  /** Record kinds beyond the parts' own (tests and benchmarks write kinds of their own). */
  extraKinds?: AnyRecordKind[]
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
  httpName?: string[]
  maxEventClients?: string
  dockerSocket?: string
  storeMax?: string
  jobRetention?: string
  jobLogMax?: string
  /** Comma-separated driver names, or `none`. */
  drivers?: string
  allowHostNetwork?: boolean
  /** `N` or `N:MODEL`: GPUs this node offers, instead of what the system says. */
  gpus?: string
  allowCheckoutMounts?: boolean
  gitCredentials?: string
  nodeGcAfter?: string
  blobPort?: string
  registryConfig?: string
  mirrorUpstream?: string
  mirrorPull?: boolean
  logLevel?: string
  /** auto | pretty | json: read by `shoal daemon` itself, which makes the logger. */
  logFormat?: string
  /** A group name or gid whose members may use the socket. */
  socketGroup?: string
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
  const bootstrap = [...(flags.bootstrap ?? [])]
  for (const addr of listen) checkMultiaddr('--listen', addr)
  for (const addr of bootstrap) checkMultiaddr('--bootstrap', addr)
  const mirrorUpstream = flags.mirrorUpstream ?? DOCKER_HUB
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(mirrorUpstream)) {
    throw new InvalidFlagError(`--mirror-upstream "${mirrorUpstream}" is not a registry host[:port]`)
  }
  const config: DaemonConfig = {
    dataDir: resolveDataDir(flags.dataDir, env),
    name,
    logLevel: logLevel as LevelWithSilent,
    mesh: { listen: [...listen], bootstrap, mdns: flags.mdns ?? true },
    membership: { labels: parseLabels(flags.label ?? []) },
    coordinator: { eligible: flags.coordinator ?? true },
    layers: {
      storeMaxBytes:
        flags.storeMax === undefined ? DEFAULT_STORE_MAX_BYTES : parseSize(flags.storeMax, '--store-max'),
      blobPort: flags.blobPort === undefined ? DEFAULT_BLOB_PORT : parsePort(flags.blobPort, '--blob-port'),
      mirrorUpstream,
      mirrorPull: flags.mirrorPull ?? false,
    },
    jobs: {
      policy: parsePolicy(flags),
      logMaxBytes: parseLogMax(flags.jobLogMax),
      retentionMs:
        flags.jobRetention === undefined
          ? DEFAULT_JOB_RETENTION_MS
          : parseDuration(flags.jobRetention, '--job-retention'),
    },
    services: {
      gitCredentialsFile: flags.gitCredentials,
      allowCheckoutMounts: flags.allowCheckoutMounts ?? false,
    },
    nodeCollector:
      flags.nodeGcAfter === undefined ? {} : { afterMs: parseDuration(flags.nodeGcAfter, '--node-gc-after') },
    api: {
      httpHost: flags.httpHost ?? '127.0.0.1',
      httpPort: flags.httpPort === undefined ? DEFAULT_HTTP_PORT : parsePort(flags.httpPort, '--http-port'),
      httpNames: (flags.httpName ?? []).map(checkHttpName),
      maxEventClients:
        flags.maxEventClients === undefined
          ? DEFAULT_MAX_EVENT_CLIENTS
          : parseCount(flags.maxEventClients, '--max-event-clients', 10_000),
    },
  }
  if (flags.gpus !== undefined) config.membership.gpus = parseGpus(flags.gpus)
  if (flags.swarmKey !== undefined) config.swarmKeyFile = flags.swarmKey
  if (flags.dockerSocket !== undefined) config.dockerSocket = flags.dockerSocket
  if (flags.registryConfig !== undefined) config.layers.registryConfigFile = flags.registryConfig
  if (flags.socketGroup !== undefined) config.api.socketGid = resolveGroup(flags.socketGroup)
  return config
}

/** A name (or address) the web page is reached by, as a browser writes it in Host. */
function checkHttpName(name: string): string {
  if (canonicalHost(name) === undefined) {
    throw new InvalidFlagError(`--http-name "${name}" is not a host name or IP address (no port, no scheme)`)
  }
  return name
}

/** A whole number from 1 to `max`. */
function parseCount(text: string, flag: string, max: number): number {
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new InvalidFlagError(`${flag} expects a whole number from 1 to ${max}, got "${text}"`)
  }
  return value
}

/** `--gpus N` or `--gpus N:MODEL` (0 offers none, even where the system has some). */
function parseGpus(text: string): DeclaredGpus {
  const match = /^(\d{1,3})(?::(.*))?$/.exec(text.trim())
  const count = match === null ? Number.NaN : Number(match[1])
  const model = match?.[2]?.trim()
  if (!(count >= 0 && count <= MAX_GPUS) || model === '') {
    throw new InvalidFlagError(
      `--gpus expects a count from 0 to ${MAX_GPUS}, optionally with a model (2 or 2:A100), got "${text}"`,
    )
  }
  if (model !== undefined && (model.length > MAX_GPU_MODEL_LENGTH || !/^[\x20-\x7e]+$/.test(model))) {
    throw new InvalidFlagError(
      `--gpus: the model must be up to ${MAX_GPU_MODEL_LENGTH} printable ASCII characters, got "${model}"`,
    )
  }
  return model === undefined ? { count } : { count, model }
}

/** `--job-log-max SIZE`: at least one byte (a log of nothing but the note would say nothing). */
function parseLogMax(text: string | undefined): number {
  if (text === undefined) return DEFAULT_JOB_LOG_MAX_BYTES
  const bytes = parseSize(text, '--job-log-max')
  if (bytes < 1) throw new InvalidFlagError('--job-log-max must be more than 0')
  return bytes
}

/** `--drivers docker,exec` and `--allow-host-network` into a job policy (default: docker only, no host network). */
function parsePolicy(flags: DaemonFlags): JobPolicy {
  const drivers = { ...DEFAULT_JOB_POLICY.drivers }
  if (flags.drivers !== undefined) {
    const names = flags.drivers
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== '')
    const unknown = names.filter(
      (name) => name !== 'none' && !(DRIVER_NAMES as readonly string[]).includes(name),
    )
    if (names.length === 0 || unknown.length > 0 || (names.includes('none') && names.length > 1)) {
      throw new InvalidFlagError(
        `--drivers expects a comma-separated list of ${DRIVER_NAMES.join(', ')} (or none), got "${flags.drivers}"`,
      )
    }
    for (const name of DRIVER_NAMES) drivers[name] = names.includes(name)
  }
  return { drivers, allowHostNetwork: flags.allowHostNetwork ?? DEFAULT_JOB_POLICY.allowHostNetwork }
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
