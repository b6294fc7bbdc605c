// Makes a directory a clean checkout of one commit of a remote: cloned the first time, fetched afterwards, detached at that commit.
import { mkdir, rm, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { classifyGitError, describeFailure, gitSourceError } from './failure.js'
import { isFullCommit, redactUrl } from './git-url.js'
import { checkUrl, resolveRef } from './resolve-ref.js'
import { type GitResult, type GitRun, runGit } from './run-git.js'
import type { GitTarget, SyncCheckoutOptions } from './types.js'

/** Calls for the same directory run one after another (a sync and a restart must not interleave git commands). */
const busy = new Map<string, Promise<unknown>>()

/**
 * Makes `dir` a checkout of `target.commit`, or of what `target.ref` points at now when commit is null: the
 * existing clone is fetched into (a directory that is not a clone of `url` is replaced), HEAD is detached at
 * exactly that commit, and local changes and untracked files are removed except the paths in `keep`.
 * Submodules are not checked out. Returns the commit. Throws GitSourceError (SHOAL_GIT_FAILED) with a
 * one-line reason, leaving `dir` a clone that the next call can reuse.
 */
export async function syncCheckout(
  url: string,
  target: GitTarget,
  dir: string,
  options: SyncCheckoutOptions = {},
): Promise<string> {
  checkUrl(url)
  const key = resolve(dir)
  const previous = busy.get(key) ?? Promise.resolve()
  // The previous call's failure is its own caller's to handle; this call starts from whatever it left.
  const next = previous.catch(() => undefined).then(() => sync(url, target, key, options))
  busy.set(key, next)
  try {
    return await next
  } finally {
    if (busy.get(key) === next) busy.delete(key)
  }
}

async function sync(
  url: string,
  target: GitTarget,
  dir: string,
  options: SyncCheckoutOptions,
): Promise<string> {
  const commit =
    target.commit === null ? await resolveRef(url, target.ref, options) : checkCommit(target.commit)
  const local: GitRun = { repoDir: dir }
  const remote: GitRun = { repoDir: dir, remote: url }
  const git = (args: string[], run = local) => runGit(args, run, options)
  const must = async (args: string[], run = local): Promise<GitResult> => {
    const result = await git(args, run)
    if (result.exitCode !== 0) throw failure(result, { url, commit })
    return result
  }

  if (!(await isCloneOf(dir, url, git))) {
    await rm(dir, { recursive: true, force: true })
    await mkdir(dir, { recursive: true })
    await must(['init', '-q', '--', dir], {})
    await must(['remote', 'add', '--', 'origin', url])
  }
  if (!(await hasCommit(commit, git))) await fetchCommit(commit, target.ref, remote, git, must, url)
  await must(['checkout', '-q', '--force', '--detach', commit, '--'])
  await must(['reset', '-q', '--hard', commit, '--'])
  const keep = (options.keep ?? []).flatMap((path) => ['-e', `/${escapeGlob(path.replace(/^\.?\//, ''))}`])
  // -x: the repository's .gitignore does not protect build output from an earlier commit; only `keep` does.
  await must(['clean', '-q', '-ffdx', ...keep, '--'])
  const head = (await must(['rev-parse', '--verify', 'HEAD^{commit}'])).stdout.trim()
  if (head !== commit)
    throw gitSourceError('failed', `checkout of ${commit} left HEAD at ${head} (${redactUrl(url)})`)
  return commit
}

/**
 * Fetches one commit by id (any server speaking protocol v2 allows it); a server that only gives advertised
 * refs gets one more try fetching its branches and tags, or the ref the commit came from.
 */
async function fetchCommit(
  commit: string,
  ref: string | null,
  remote: GitRun,
  git: (args: string[], run?: GitRun) => Promise<GitResult>,
  must: (args: string[], run?: GitRun) => Promise<GitResult>,
  url: string,
): Promise<void> {
  const fetch = ['fetch', '-q', '--no-tags', '--no-recurse-submodules', '--no-write-fetch-head', '--']
  const direct = await git([...fetch, 'origin', commit], remote)
  if (direct.exitCode === 0) return
  const { kind } = classifyGitError(direct.stderr)
  if (kind !== 'commit-not-found' && kind !== 'ref-not-found') throw failure(direct, { url, commit })
  const refspecs = ['+refs/heads/*:refs/remotes/origin/*', '+refs/tags/*:refs/tags/*']
  // A ref outside branches and tags (refs/pull/1/head) is fetched by name: the wildcards above miss it.
  const other = ref?.startsWith('refs/') && !/^refs\/(heads|tags)\//.test(ref)
  if (other) refspecs.push(`+${ref}:${ref}`)
  await must([...fetch, 'origin', ...refspecs], remote)
  if (!(await hasCommit(commit, git))) {
    const context = { url: redactUrl(url), hadCredentials: direct.hadCredentials, commit }
    throw gitSourceError('commit-not-found', describeFailure('commit-not-found', '', context))
  }
}

/** A clone at `dir` itself (not a repository above it) whose origin is `url`. */
async function isCloneOf(
  dir: string,
  url: string,
  git: (args: string[]) => Promise<GitResult>,
): Promise<boolean> {
  const gitDir = await stat(`${dir}/.git`).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined
    throw err
  })
  if (gitDir === undefined || !gitDir.isDirectory()) return false
  const origin = await git(['config', '--get', 'remote.origin.url'])
  return origin.exitCode === 0 && origin.stdout.trim() === url
}

async function hasCommit(commit: string, git: (args: string[]) => Promise<GitResult>): Promise<boolean> {
  return (await git(['cat-file', '-e', `${commit}^{commit}`])).exitCode === 0
}

function checkCommit(commit: string): string {
  if (!isFullCommit(commit)) {
    throw gitSourceError('invalid', `${JSON.stringify(commit)} is not a full commit id (40 or 64 hex digits)`)
  }
  return commit.toLowerCase()
}

function failure(result: GitResult, context: { url: string; commit: string }) {
  const { kind, detail } = classifyGitError(result.stderr)
  const message = describeFailure(kind, detail, {
    url: redactUrl(context.url),
    hadCredentials: result.hadCredentials,
    commit: context.commit,
  })
  return gitSourceError(kind, message, detail)
}

/** `keep` paths are literal names, not patterns for `git clean -e`. */
function escapeGlob(path: string): string {
  return path.replace(/[\\*?[\]!#]/g, '\\$&')
}
