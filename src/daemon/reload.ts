// SIGHUP: what a running daemon takes from its configuration again — labels, log level, drivers policy.
import type { LevelWithSilent, Logger } from 'pino'
import { setLogLevel } from '../logger.js'
import type { DaemonConfig } from './config.js'
import type { Daemon } from './daemon.js'

export interface ReloadResult {
  /** What changed and now applies. */
  applied: string[]
  /** Parts of the configuration that changed but take a restart (listen addresses, ports, data dir, …). */
  needRestart: string[]
}

/**
 * Applies `next` to the running daemon where it can change live, and says what else changed. `current` is what
 * the daemon runs with now (its start configuration, or the last reload's); the caller keeps `next` for the next.
 */
export async function reloadDaemon(
  daemon: Daemon,
  root: Logger,
  current: DaemonConfig,
  next: DaemonConfig,
): Promise<ReloadResult> {
  const applied: string[] = []
  if (next.logLevel !== current.logLevel) {
    setLogLevel(root, next.logLevel as LevelWithSilent)
    applied.push(`log level ${next.logLevel}`)
  }
  const labelsChanged = !same(next.membership.labels, current.membership.labels)
  const policyChanged = !same(next.jobs.policy, current.jobs.policy)
  if (policyChanged && next.jobs.policy !== undefined) {
    daemon.jobs.setPolicy(next.jobs.policy)
    applied.push('drivers policy')
  }
  if (labelsChanged || policyChanged) {
    await daemon.membership.reconfigure({
      labels: next.membership.labels,
      drivers: next.jobs.policy?.drivers,
      hostNetwork: next.jobs.policy?.allowHostNetwork,
    })
    if (labelsChanged) applied.push('labels')
  }
  daemon.services.reloadGitCredentials()
  const [before, after] = [restartOnly(current), restartOnly(next)]
  const sections = Object.keys({ ...before, ...after }) as Array<keyof DaemonConfig>
  return { applied, needRestart: sections.filter((key) => !same(before[key], after[key])) }
}

/** The configuration less what a reload applies live: what differs here takes a restart. */
function restartOnly(config: DaemonConfig): Partial<DaemonConfig> {
  return {
    ...config,
    logLevel: undefined,
    membership: { ...config.membership, labels: {} },
    jobs: { ...config.jobs, policy: undefined },
  }
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
