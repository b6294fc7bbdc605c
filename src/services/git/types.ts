// Options and results of git sources: how callers tune a lookup or a checkout, and what a failure was.
import type { Logger } from '../../logger.js'
import type { GitCredentials } from './credentials.js'

export interface GitOptions {
  /** Credentials for HTTP(S) remotes, from `loadGitCredentials`. @default none (public repositories and SSH) */
  credentials?: GitCredentials
  /** Each git command is killed (with what it started) after this long. @default 120_000 */
  timeoutMs?: number
  /** Aborting kills the running git command; the call then fails with SHOAL_GIT_FAILED ("stopped"). */
  signal?: AbortSignal
  /** Debug lines for each git command: its arguments, exit and time (never a credential). */
  log?: Logger
}

export interface SyncCheckoutOptions extends GitOptions {
  /**
   * Paths relative to the checkout that cleaning leaves in place (an instance's variables file). A path the
   * commit itself tracks is still reset to the commit's version.
   * @default []
   */
  keep?: string[]
}

/** What `syncCheckout` is to check out: `commit` when given, otherwise what `ref` points at now. */
export interface GitTarget {
  /** A branch or tag name, or a full ref (`refs/heads/x`); null for the remote's HEAD. */
  ref: string | null
  /** A full commit id (40 or 64 hex digits), or null. */
  commit: string | null
}

/**
 * Why a git source failed, for callers that act on the kind (retry soon, or only after the spec changes).
 * The error's `cause` is a `GitFailure` carrying it.
 */
export type GitFailureKind =
  | 'invalid' // the URL, ref or commit is refused before git runs
  | 'not-found' // no repository at that URL
  | 'unreachable' // could not connect, host not found
  | 'auth' // credentials missing or refused, SSH key refused
  | 'host-key' // SSH host key unknown or changed
  | 'ref-not-found'
  | 'commit-not-found'
  | 'timeout'
  | 'aborted'
  | 'failed' // anything else git reported
