// Checks on what shoal hands to git (URL, ref, commit) and the URL as people may see it (no password in it).

/** A full commit id: SHA-1 (40 hex digits) or SHA-256 (64). */
const FULL_COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i

/** `scheme://user:password@` of a URL, to hide the password wherever a URL is shown. */
const USERINFO_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^/@\s:]*):[^/@\s]*@/gi

/** Why git must not be given this URL, or undefined: an option to git, a remote helper (`ext::` runs a command). */
export function refusedUrlReason(url: string): string | undefined {
  if (url.length === 0) return 'the git URL is empty'
  if (url.startsWith('-')) return 'a git URL may not start with "-"'
  if (/^[a-z][a-z0-9+.-]*::/i.test(url)) return 'a git URL may not name a remote helper (<helper>::)'
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\s\x00-\x1f\x7f]/.test(url)) return 'a git URL may not contain spaces or control characters'
  return undefined
}

/**
 * Why this ref cannot be a git ref name (git-check-ref-format's rules, one-level names allowed), or undefined.
 * Checked before git runs so that a ref can never be read as an option or a pattern.
 */
export function refusedRefReason(ref: string): string | undefined {
  const bad =
    ref.length === 0 ||
    ref.startsWith('-') ||
    ref.startsWith('/') ||
    ref.endsWith('/') ||
    ref.endsWith('.') ||
    ref.endsWith('.lock') ||
    ref.includes('..') ||
    ref.includes('//') ||
    ref.includes('@{') ||
    ref === '@' ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    /[\s\x00-\x1f\x7f~^:?*[\\]/.test(ref) ||
    ref.split('/').some((part) => part.startsWith('.'))
  return bad ? `${JSON.stringify(ref)} is not a valid git ref name` : undefined
}

export function isFullCommit(value: string): boolean {
  return FULL_COMMIT.test(value)
}

/** The URL with any password in it replaced by `***`: the only form of a URL put in messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(USERINFO_PASSWORD, '$1:***@')
}

/** The password a URL carries in its user info, if any (git uses it; shoal hides it). */
export function urlPassword(url: string): string | undefined {
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:([^/@\s]*)@/i.exec(url)
  if (match?.[1] === undefined || match[1] === '') return undefined
  try {
    return decodeURIComponent(match[1])
  } catch {
    return match[1] // not percent-encoded: git sends it as written
  }
}

/**
 * Protocol and host (with a port when the URL names one) of an http(s) URL exactly as git describes it to a
 * credential helper (`protocol=`, `host=`), or undefined for other URLs (SSH, local paths).
 */
export function httpOrigin(url: string): { protocol: 'http' | 'https'; host: string } | undefined {
  const match = /^(https?):\/\/(?:[^/@\s]*@)?([^/?#\s]+)/i.exec(url)
  if (match?.[1] === undefined || match[2] === undefined) return undefined
  return { protocol: match[1].toLowerCase() as 'http' | 'https', host: match[2] }
}
