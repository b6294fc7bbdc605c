// What services need of git: the commit a ref points at, and a checkout of a commit (see src/services/git/).
export interface GitSource {
  /** The commit `ref` (null: the remote's HEAD) points at now; throws GitSourceError. */
  resolveRef(url: string, ref: string | null): Promise<string>
  /** Makes `dir` a checkout of `commit` (or of the ref's tip when null); returns the commit; throws GitSourceError. */
  syncCheckout(
    url: string,
    target: { ref: string | null; commit: string | null },
    dir: string,
  ): Promise<string>
}

/** Until the git module is wired: every git source fails with a clear reason. */
export function createGitSource(_init: { dataDir: string; gitCredentialsFile?: string }): GitSource {
  const missing = async (): Promise<never> => {
    const { GitSourceError } = await import('../errors.js')
    throw new GitSourceError('git sources are not available in this build')
  }
  return { resolveRef: missing, syncCheckout: missing }
}
