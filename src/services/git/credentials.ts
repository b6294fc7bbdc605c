// The git credentials file (host or URL prefix → username and password or token), read once and matched per URL.
import { access, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml'
import { InvalidFlagError } from '../../errors.js'
import { DEFAULT_GIT_CREDENTIALS_FILE } from './constants.js'
import { httpOrigin } from './git-url.js'

/** What git is given for one remote. */
export interface GitCredential {
  username: string
  password: string
}

interface Entry extends GitCredential {
  /** A URL prefix (`https://host/group/`) or a host (`host` or `host:port`), lowercased up to the path. */
  key: string
  kind: 'prefix' | 'host'
}

const ENTRY_FIELDS = new Set(['username', 'password', 'token'])

/**
 * Credentials for HTTP(S) remotes. The secrets sit in a private field: logging, inspecting or serialising the
 * object shows only which hosts have credentials.
 */
export class GitCredentials {
  readonly #entries: readonly Entry[]

  constructor(entries: readonly Entry[] = []) {
    this.#entries = entries
  }

  /** Hosts and prefixes that have credentials (no secrets). */
  get keys(): string[] {
    return this.#entries.map((entry) => entry.key)
  }

  /**
   * The credential for an http(s) URL: the longest URL prefix that matches, else its `host:port`, else its host
   * on any port. SSH and local URLs get none (SSH uses the node's own keys).
   */
  forUrl(url: string): GitCredential | undefined {
    const origin = httpOrigin(url)
    if (origin === undefined) return undefined
    const target = normalizePrefix(url.replace(/^(https?:\/\/)[^/@]*@/i, '$1'))
    let best: Entry | undefined
    for (const entry of this.#entries) {
      if (entry.kind !== 'prefix' || !prefixMatches(entry.key, target)) continue
      if (best === undefined || entry.key.length > best.key.length) best = entry
    }
    const host = origin.host.toLowerCase()
    best ??= this.#entries.find((entry) => entry.kind === 'host' && entry.key === host)
    const hostname = host.replace(/:\d+$/, '')
    best ??= this.#entries.find((entry) => entry.kind === 'host' && entry.key === hostname)
    return best === undefined ? undefined : { username: best.username, password: best.password }
  }

  toJSON(): { hosts: string[] } {
    return { hosts: this.keys }
  }

  [inspect.custom](): string {
    return `GitCredentials { hosts: ${JSON.stringify(this.keys)} }`
  }
}

/**
 * Reads a credentials file (YAML or JSON): a map from a host (`git.example.com`, `host:8443`) or an http(s) URL
 * prefix (`https://git.example.com/team/`) to `{ username, password }` or `{ username, token }`. No file, no
 * credentials. The file must not be readable by others, and no error ever quotes a value from it.
 */
export async function loadGitCredentials(file: string | undefined): Promise<GitCredentials> {
  if (file === undefined) return new GitCredentials()
  const fail = (message: string, cause?: unknown): never => {
    throw new InvalidFlagError(
      `git credentials file ${file}: ${message}`,
      cause === undefined ? {} : { cause },
    )
  }
  const info = await stat(file).catch((err: NodeJS.ErrnoException) =>
    fail(err.code === 'ENOENT' ? 'does not exist' : `cannot be read (${err.code ?? err.message})`, err),
  )
  if (!info.isFile()) fail('is not a file')
  if ((info.mode & 0o077) !== 0) {
    fail(
      `is open to other users (mode ${(info.mode & 0o777).toString(8)}); make it private: chmod 600 ${file}`,
    )
  }
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) =>
    fail(`cannot be read (${err.code ?? err.message})`, err),
  )
  return new GitCredentials(parseCredentials(text, fail))
}

/**
 * Which credentials file a daemon reads: the one `--git-credentials` names, else `<data-dir>/git-credentials.yaml`
 * when it exists, else none.
 */
export async function gitCredentialsFileFor(
  dataDir: string,
  flag: string | undefined,
): Promise<string | undefined> {
  if (flag !== undefined) return flag
  const file = join(dataDir, DEFAULT_GIT_CREDENTIALS_FILE)
  return access(file).then(
    () => file,
    (err: NodeJS.ErrnoException) => {
      // Only a missing file means "no credentials"; one that exists but cannot be read is reported by the load.
      if (err.code === 'ENOENT') return undefined
      return file
    },
  )
}

function parseCredentials(text: string, fail: (message: string) => never): Entry[] {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const first = doc.errors[0]
  // Only the line and yaml's error code: yaml's own messages may quote the line, and the line may hold a password.
  if (first !== undefined) fail(`line ${lines.linePos(first.pos[0]).line}: not YAML or JSON (${first.code})`)
  if (doc.contents === null) return []
  if (!isMap(doc.contents)) fail('must be a map of host or URL prefix → { username, password | token }')
  const entries: Entry[] = []
  for (const pair of doc.contents.items) {
    const line = isScalar(pair.key) && pair.key.range ? lines.linePos(pair.key.range[0]).line : 1
    const at = (message: string): never => fail(`line ${line}: ${message}`)
    const rawKey = isScalar(pair.key) ? pair.key.value : undefined
    if (typeof rawKey !== 'string' || rawKey.trim() === '') at('each key is a host or an http(s) URL prefix')
    const key = String(rawKey).trim()
    const kind = checkKey(key, at)
    const value = isMap(pair.value) ? (pair.value.toJSON() as Record<string, unknown>) : undefined
    if (value === undefined) at(`${key}: expected { username, password } or { username, token }`)
    const fields = value as Record<string, unknown>
    const unknown = Object.keys(fields).filter((field) => !ENTRY_FIELDS.has(field))
    if (unknown.length > 0) at(`${key}: unknown field ${unknown.join(', ')} (username, password, token)`)
    const username = secretField(fields, 'username', key, at)
    const password = secretField(fields, 'password', key, at)
    const token = secretField(fields, 'token', key, at)
    if (username === undefined) at(`${key}: username is missing`)
    if ((password === undefined) === (token === undefined))
      at(`${key}: give a password or a token (one of them)`)
    entries.push({
      key: kind === 'prefix' ? normalizePrefix(key) : key.toLowerCase(),
      kind,
      username: username as string,
      password: (password ?? token) as string,
    })
  }
  return entries
}

function checkKey(key: string, at: (message: string) => never): 'prefix' | 'host' {
  // Keys show in messages and logs: a password in one would leak there.
  if (key.includes('@')) at('a key may not hold user info (the username goes in the entry)')
  if (key.includes('://')) {
    if (!/^https?:\/\/[^/@\s]+/i.test(key))
      at(`${key}: a URL prefix starts with https:// or http:// and a host`)
    return 'prefix'
  }
  if (!/^[a-z0-9.[\]:-]+$/i.test(key)) at(`${key}: not a host, host:port or http(s) URL prefix`)
  return 'host'
}

/** A string field without line breaks (git's credential protocol is line-based); never quoted in an error. */
function secretField(
  fields: Record<string, unknown>,
  name: string,
  key: string,
  at: (message: string) => never,
): string | undefined {
  const value = fields[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string' || value === '') {
    at(`${key}: ${name} must be a non-empty string (quote a value YAML would read as a number)`)
  }
  if (/[\r\n\0]/.test(value as string)) at(`${key}: ${name} may not contain a line break or NUL`)
  return value as string
}

/** Scheme and host lowercased, the path as written. */
function normalizePrefix(url: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/[^/]*)(.*)$/is.exec(url)
  return match === null ? url : `${match[1]!.toLowerCase()}${match[2]}`
}

/** `https://h/team` covers `https://h/team/x.git` and `https://h/team.git`, not `https://h/teams/x.git`. */
function prefixMatches(prefix: string, url: string): boolean {
  if (!url.startsWith(prefix)) return false
  if (prefix.endsWith('/') || url.length === prefix.length) return true
  return ['/', '.', '?', '#'].includes(url[prefix.length]!)
}
