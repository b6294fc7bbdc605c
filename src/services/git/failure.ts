// Git's failures as one-line reasons (repository not found, could not connect, authentication failed, …), free of secrets.
import { GitSourceError } from '../../errors.js'
import { MAX_GIT_DETAIL_CHARS } from './constants.js'
import { redactUrl } from './git-url.js'
import type { GitFailureKind } from './types.js'

/** The `cause` of every GitSourceError this module throws: the kind of failure and git's own words, redacted. */
export class GitFailure extends Error {
  readonly kind: GitFailureKind

  constructor(kind: GitFailureKind, detail: string) {
    super(detail)
    this.kind = kind
    this.name = 'GitFailure'
  }
}

/** The kind of a git source failure, or undefined for any other error. */
export function gitFailureKind(err: unknown): GitFailureKind | undefined {
  if (!(err instanceof GitSourceError)) return undefined
  return err.cause instanceof GitFailure ? err.cause.kind : undefined
}

export function gitSourceError(kind: GitFailureKind, message: string, detail = ''): GitSourceError {
  return new GitSourceError(message, { cause: new GitFailure(kind, detail) })
}

// Git's messages with LC_ALL=C, from http (curl), ssh, git daemon and local paths; the first rule that matches wins.
const RULES: [GitFailureKind, RegExp][] = [
  ['host-key', /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i],
  [
    'auth',
    /Authentication failed|could not read (Username|Password)|terminal prompts disabled|Permission denied \(|HTTP Basic: Access denied|The requested URL returned error: 40[13]\b/i,
  ],
  ['ref-not-found', /couldn't find remote ref/i],
  ['commit-not-found', /not our ref|unadvertised object/i],
  [
    'not-found',
    /repository '[^']*' not found|does not appear to be a git repository|Repository not found|The requested URL returned error: 404\b|access denied or repository not exported|not a git repository/i,
  ],
  [
    'unreachable',
    /Could not resolve host|Could not resolve hostname|Failed to connect|Connection refused|Connection timed out|Connection reset|Network is unreachable|No route to host|Couldn't connect|unable to access|Operation timed out|Connection closed by remote host/i,
  ],
]

/** What git's stderr says went wrong, and the line that says it (without `fatal:` and with URLs redacted). */
export function classifyGitError(stderr: string): { kind: GitFailureKind; detail: string } {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
  for (const [kind, pattern] of RULES) {
    const line = lines.find((candidate) => pattern.test(candidate))
    if (line !== undefined) return { kind, detail: detailOf(line) }
  }
  const last = [...lines].reverse().find((line) => /^(fatal|error):/i.test(line)) ?? lines.at(-1) ?? ''
  return { kind: 'failed', detail: detailOf(last) }
}

function detailOf(line: string): string {
  const text = redactUrl(line.replace(/^(fatal|error|remote error):\s*/i, ''))
  return text.length > MAX_GIT_DETAIL_CHARS ? `${text.slice(0, MAX_GIT_DETAIL_CHARS)}…` : text
}

/** Facts about the failing call that make its reason precise. */
export interface FailureContext {
  /** The remote, already redacted. */
  url: string
  /** Whether credentials were offered for it (an auth failure then means they were refused). */
  hadCredentials: boolean
  ref?: string
  commit?: string
}

/** The one-line reason people see for git's failure. */
export function describeFailure(kind: GitFailureKind, detail: string, context: FailureContext): string {
  const { url } = context
  const ssh = !/^https?:\/\//i.test(url)
  switch (kind) {
    case 'not-found':
      return `repository not found: ${url}`
    case 'unreachable':
      return `could not connect to ${url}: ${withoutUrl(detail, url)}`
    case 'auth':
      if (ssh) return `authentication failed for ${url} (the node's SSH key was refused or is missing)`
      return context.hadCredentials
        ? `authentication failed for ${url} (the credentials for this host were refused)`
        : `authentication failed for ${url} (no credentials for this host in the git credentials file)`
    case 'host-key':
      return `SSH host key of ${url} is unknown or has changed (add the host to the node's known_hosts)`
    case 'ref-not-found':
      return `ref ${context.ref ?? 'HEAD'} not found in ${url}`
    case 'commit-not-found':
      return `commit ${context.commit ?? '?'} not found in the repository ${url}`
    default:
      return `git failed on ${url}: ${detail || 'no reason given'}`
  }
}

/** curl repeats the URL ("unable to access 'URL/': Failed to connect…"): keep only what it says about it. */
function withoutUrl(detail: string, url: string): string {
  const rest = /unable to access '[^']*':\s*(.*)$/i.exec(detail)?.[1]
  return (rest ?? detail.replace(url, '').trim()) || 'no reason given'
}
