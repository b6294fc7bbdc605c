// One node's git sources: resolveRef and syncCheckout bound to its credentials file, logger and timeout.
import type { Logger } from '../../logger.js'
import { type GitCredentials, gitCredentialsFileFor, loadGitCredentials } from './credentials.js'
import { gitSourceError } from './failure.js'
import { resolveRef } from './resolve-ref.js'
import { syncCheckout } from './sync-checkout.js'
import type { GitOptions, GitTarget, SyncCheckoutOptions } from './types.js'

export interface GitSourceInit {
  /** `<dataDir>/git-credentials.yaml` is read when `gitCredentialsFile` is not given and it exists. */
  dataDir: string
  /** `--git-credentials FILE`. @default `<dataDir>/git-credentials.yaml` if present, else no credentials */
  gitCredentialsFile?: string
  log?: Logger
  /** @default 120_000 (DEFAULT_GIT_TIMEOUT_MS) */
  timeoutMs?: number
}

/** Per call: a signal that kills git when the instance stops, and files a checkout keeps (its variables file). */
export type GitCallOptions = Pick<SyncCheckoutOptions, 'signal' | 'keep'>

export interface GitSource {
  resolveRef(url: string, ref: string | null, options?: Pick<GitOptions, 'signal'>): Promise<string>
  syncCheckout(url: string, target: GitTarget, dir: string, options?: GitCallOptions): Promise<string>
  /** Reads the credentials file again on next use (after an operator changed it, on SIGHUP). */
  reloadCredentials(): void
}

/**
 * Git sources for one daemon. The credentials file is read on first use and kept; a file that cannot be used
 * fails that call (SHOAL_GIT_FAILED, naming the file and line) and is read again on the next one, so fixing it
 * needs no restart. Call `loadGitCredentials` at start-up as well to refuse a bad file early.
 */
export function createGitSource(init: GitSourceInit): GitSource {
  let credentials: Promise<GitCredentials> | undefined
  const load = (): Promise<GitCredentials> => {
    credentials ??= gitCredentialsFileFor(init.dataDir, init.gitCredentialsFile)
      .then(loadGitCredentials)
      .catch((err: Error) => {
        credentials = undefined
        throw gitSourceError('invalid', err.message, err.message)
      })
    return credentials
  }
  const options = async (call: GitCallOptions = {}): Promise<SyncCheckoutOptions> => ({
    ...call,
    credentials: await load(),
    ...(init.log === undefined ? {} : { log: init.log }),
    ...(init.timeoutMs === undefined ? {} : { timeoutMs: init.timeoutMs }),
  })
  return {
    resolveRef: async (url, ref, call) => resolveRef(url, ref, await options(call)),
    syncCheckout: async (url, target, dir, call) => syncCheckout(url, target, dir, await options(call)),
    reloadCredentials: () => {
      credentials = undefined
    },
  }
}
