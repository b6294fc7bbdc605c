// Limits and defaults of git sources, with where each number comes from.

/** A git command still running after this long is killed: a clone of a large repository over a slow link fits. */
export const DEFAULT_GIT_TIMEOUT_MS = 120_000

/** The credentials file the daemon reads from its data directory when `--git-credentials` is not given. */
export const DEFAULT_GIT_CREDENTIALS_FILE = 'git-credentials.yaml'

/** Bytes of a git command's stderr kept to explain a failure (git says why in its last few lines). */
export const MAX_GIT_STDERR_BYTES = 16 * 1024

/** Bytes of stdout kept: `ls-remote` of a few refs, `rev-parse`, `config --get` answer in far less. */
export const MAX_GIT_STDOUT_BYTES = 4 * 1024 * 1024

/** The longest explanation from git's stderr put into an error message. */
export const MAX_GIT_DETAIL_CHARS = 300
