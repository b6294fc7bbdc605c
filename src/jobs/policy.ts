// What a node accepts to run for the mesh (drivers, networking) and where a job's working dir may be: one check for placement, the runner and submissions.
import { isAbsolute, normalize, sep } from 'node:path'

export type DriverName = 'exec' | 'docker'
export const DRIVER_NAMES: readonly DriverName[] = ['docker', 'exec']

/**
 * A node's policy (`--drivers`, `--allow-host-network`). Any member of the mesh may submit work, and the
 * coordinator may place it on any node: each node says here what it runs, advertises it in its node record
 * so placement honours it, and refuses the rest (SHOAL_JOB_REFUSED).
 */
export interface JobPolicy {
  /** Drivers this node runs. exec runs commands as the daemon's user, so it is opt-in (like Nomad's raw_exec). */
  drivers: { docker: boolean; exec: boolean }
  /** Containers may use the host's network, another container's, or a named network (not only none/bridge). */
  allowHostNetwork: boolean
}

/** Docker only, isolated networks only. */
export const DEFAULT_JOB_POLICY: JobPolicy = {
  drivers: { docker: true, exec: false },
  allowHostNetwork: false,
}

/**
 * Network modes any node allows: no network, or Docker's default bridge (outbound access, its own namespace).
 * `host`, `container:<name>` and named networks reach into the host or other containers.
 */
const ISOLATED_NETWORKS = new Set(['none', 'bridge', 'default'])

/** The network modes a spec may name: Docker's modes and network names. */
export const NETWORK_PATTERN = /^(container:)?[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

/** True if a container with this network mode (null: none) needs `--allow-host-network` on its node. */
export function needsHostNetwork(network: string | null): boolean {
  return network !== null && !ISOLATED_NETWORKS.has(network)
}

/** What a spec asks of a node's policy. */
export interface PolicyNeeds {
  driver: DriverName
  network: string | null
}

/** Why a node with this policy refuses the work, or undefined if it may run it. */
export function policyRefusal(spec: PolicyNeeds, policy: JobPolicy): string | undefined {
  if (!policy.drivers[spec.driver]) {
    return `this node does not run the ${spec.driver} driver (it runs ${enabledDrivers(policy).join(', ') || 'none'}; see --drivers)`
  }
  if (spec.driver === 'docker' && needsHostNetwork(spec.network) && !policy.allowHostNetwork) {
    return `this node does not allow network "${spec.network}" (only none and bridge without --allow-host-network)`
  }
  return undefined
}

export function enabledDrivers(policy: Pick<JobPolicy, 'drivers'>): DriverName[] {
  return DRIVER_NAMES.filter((name) => policy.drivers[name])
}

/**
 * Why an exec job's working dir is not a path inside its job directory, or undefined if it is one: it is taken
 * relative to `<data-dir>/jobs/<id>/work`, so absolute paths and `..` are refused (the node also resolves
 * symlinks before it runs the job, see runner.ts).
 */
export function workdirEscape(workdir: string): string | undefined {
  if (workdir.includes('\0')) return 'workdir holds a NUL byte'
  if (isAbsolute(workdir))
    return `workdir "${workdir}" is absolute: an exec job's workdir is relative to its own directory on the node`
  const normal = normalize(workdir)
  if (normal === '..' || normal.startsWith(`..${sep}`) || workdir.split(/[\\/]/).includes('..')) {
    return `workdir "${workdir}" leaves the job's directory ("..")`
  }
  return undefined
}
