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
  const live = new Set(['logLevel', 'membership', 'jobs'])
  const needRestart = Object.keys({ ...current, ...next }).filter(
    (key) => !live.has(key) && !same(current[key as keyof DaemonConfig], next[key as keyof DaemonConfig]),
  )
  const { labels: _currentLabels, ...currentMembership } = current.membership
  const { labels: _nextLabels, ...nextMembership } = next.membership
  if (!same(currentMembership, nextMembership)) needRestart.push('membership')
  const { policy: _currentPolicy, ...currentJobs } = current.jobs
  const { policy: _nextPolicy, ...nextJobs } = next.jobs
  if (!same(currentJobs, nextJobs)) needRestart.push('jobs')
  return { applied, needRestart }
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
