// Git sources of services: the commit a ref points at, a clean checkout of a commit, and the credentials file.
export { DEFAULT_GIT_CREDENTIALS_FILE, DEFAULT_GIT_TIMEOUT_MS } from './constants.js'
export {
  type GitCredential,
  GitCredentials,
  gitCredentialsFileFor,
  loadGitCredentials,
} from './credentials.js'
export { GitFailure, gitFailureKind } from './failure.js'
export { resolveRef } from './resolve-ref.js'
export { createGitSource, type GitCallOptions, type GitSource, type GitSourceInit } from './source.js'
export { syncCheckout } from './sync-checkout.js'
export type { GitFailureKind, GitOptions, GitTarget, SyncCheckoutOptions } from './types.js'
