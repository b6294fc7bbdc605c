// The commit a branch, tag or the remote's HEAD points at now, asked of the remote with `git ls-remote`.
import { classifyGitError, describeFailure, gitSourceError } from './failure.js'
import { isFullCommit, redactUrl, refusedRefReason, refusedUrlReason } from './git-url.js'
import { runGit } from './run-git.js'
import type { GitOptions } from './types.js'

/**
 * The commit `ref` points at in the repository at `url`: null or `HEAD` for the remote's HEAD, a full ref
 * (`refs/heads/x`), or a name looked up as git does (`refs/<name>`, then tags, then branches, so a tag wins
 * over a branch of the same name). Annotated tags are peeled to their commit. A full commit id is returned
 * as it is, without asking the remote. Throws GitSourceError (SHOAL_GIT_FAILED) with a one-line reason.
 */
export async function resolveRef(url: string, ref: string | null, options: GitOptions = {}): Promise<string> {
  checkUrl(url)
  if (ref !== null && isFullCommit(ref)) return ref.toLowerCase()
  const name = ref ?? 'HEAD'
  const refused = name === 'HEAD' ? undefined : refusedRefReason(name)
  if (refused !== undefined) throw gitSourceError('invalid', refused)
  const candidates = candidateRefs(name)
  const patterns = candidates.flatMap((candidate) => [candidate, `${candidate}^{}`])
  const result = await runGit(['ls-remote', '--', url, ...patterns], { remote: url }, options)
  const context = { url: redactUrl(url), hadCredentials: result.hadCredentials, ref: name }
  if (result.exitCode !== 0) {
    const { kind, detail } = classifyGitError(result.stderr)
    throw gitSourceError(kind, describeFailure(kind, detail, context), detail)
  }
  const advertised = parseLsRemote(result.stdout)
  for (const candidate of candidates) {
    const sha = advertised.get(`${candidate}^{}`) ?? advertised.get(candidate)
    if (sha !== undefined) return sha
  }
  const hint = /^[0-9a-f]{4,39}$/i.test(name)
    ? ' (an abbreviated commit cannot be looked up: give all 40 digits)'
    : ''
  const why = name === 'HEAD' ? ' (the repository is empty or has no HEAD)' : hint
  throw gitSourceError('ref-not-found', `${describeFailure('ref-not-found', '', context)}${why}`)
}

export function checkUrl(url: string): void {
  const refused = refusedUrlReason(url)
  if (refused !== undefined) throw gitSourceError('invalid', refused)
}

/** git's order for a short name (gitrevisions(7)): refs/<name>, refs/tags/<name>, refs/heads/<name>. */
function candidateRefs(name: string): string[] {
  if (name === 'HEAD' || name.startsWith('refs/')) return [name]
  return [`refs/${name}`, `refs/tags/${name}`, `refs/heads/${name}`]
}

/** `<sha>\t<ref>` lines → ref → sha (`refs/tags/x^{}` is the commit an annotated tag points at). */
function parseLsRemote(stdout: string): Map<string, string> {
  const refs = new Map<string, string>()
  for (const line of stdout.split('\n')) {
    const [sha, ref] = line.split('\t')
    if (sha !== undefined && ref !== undefined && isFullCommit(sha)) refs.set(ref, sha.toLowerCase())
  }
  return refs
}
