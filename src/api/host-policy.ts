// Which Host and Origin a TCP request may carry: loopback, this listener's address or a --http-name (DNS rebinding, cross-site writes).
import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'

/** A host as it may appear in a Host header: a bracketed IPv6 address, or letters, digits, dots and dashes. */
const HOST_SHAPE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)$/
/** A Host header: a host and an optional port, nothing else (no userinfo, path or percent-escapes). */
const HOST_HEADER = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/
const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/
/** ::ffff:127.x.y.z as the URL parser writes it. */
const LOOPBACK_MAPPED_V6 = /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/

/**
 * The canonical form of a host name or address (IPv6 with or without brackets) as a browser would send it in
 * a Host header: lowercase, IPv4 in dotted decimal, IPv6 bracketed and compressed. Undefined for anything else,
 * including names whose last label is a number (`127.x.1`), which are neither names nor addresses.
 */
export function canonicalHost(host: string): string | undefined {
  const bracketed = isIP(host) === 6 ? `[${host}]` : host
  if (!HOST_SHAPE.test(bracketed)) return undefined
  try {
    return new URL(`http://${bracketed}/`).hostname
  } catch (err) {
    if (err instanceof TypeError) return undefined // not a valid host: the URL parser refuses it
    throw err
  }
}

/** True for `localhost`, 127.0.0.0/8 and ::1 — never for names that merely start like them (`127.0.0.1.evil`). */
export function isLoopbackHost(host: string): boolean {
  const canonical = canonicalHost(host)
  if (canonical === undefined) return false
  return (
    canonical === 'localhost' ||
    canonical === '[::1]' ||
    LOOPBACK_V4.test(canonical) ||
    LOOPBACK_MAPPED_V6.test(canonical)
  )
}

/** The canonical host of a Host header (its port dropped), or undefined if the header is not `host[:port]`. */
export function hostOfHeader(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const match = HOST_HEADER.exec(header)
  if (match === null) return undefined
  return canonicalHost(match[1]!)
}

/**
 * Host checks for the TCP listener. A page on another site can make a browser send requests to loopback;
 * with DNS rebinding its own name resolves to 127.0.0.1 and the browser treats our answers as same-origin. Its
 * requests still carry its name in Host, so only hosts the user can mean are served: loopback, the address
 * the client connected to (an IP literal cannot be rebound), the listen host, and names given with --http-name.
 */
export class HostPolicy {
  private readonly names: ReadonlySet<string>

  /**
   * `names` must be host names or addresses (the config checks `--http-name`); the listen host counts too when
   * it is one (a listen address like `0.0.0.0` never appears in a Host a browser sends, so it adds nothing).
   */
  constructor(names: readonly string[], listenHost: string) {
    const canonical = names.map((name) => canonicalHost(name))
    if (canonical.some((name) => name === undefined))
      throw new TypeError(`not host names: ${names.join(', ')}`)
    const listen = canonicalHost(listenHost)
    this.names = new Set([...(canonical as string[]), ...(listen === undefined ? [] : [listen])])
  }

  allows(req: IncomingMessage): boolean {
    const host = hostOfHeader(req.headers.host)
    if (host === undefined) return false
    if (isLoopbackHost(host) || this.names.has(host)) return true
    const local = req.socket.localAddress
    return local !== undefined && host === canonicalHost(unmapV4(local))
  }
}

/** A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; browsers write them as a.b.c.d. */
function unmapV4(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * True for a request that changes something and comes from a page of another origin: its browser says so
 * (`Sec-Fetch-Site` other than same-origin or none — same-site includes other ports on localhost), or its
 * `Origin` is not the origin the Host header names. Requests without either header come from tools, not pages.
 */
export function isCrossOriginWrite(req: IncomingMessage): boolean {
  if (SAFE_METHODS.has(req.method ?? 'GET')) return false
  const site = req.headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return true
  const origin = req.headers.origin
  if (origin === undefined) return false
  const host = req.headers.host
  if (host === undefined || !HOST_HEADER.test(host)) return true
  try {
    const from = new URL(origin)
    const own = new URL(`http://${host}`)
    return !(from.protocol === 'http:' || from.protocol === 'https:') || from.host !== own.host
  } catch (err) {
    if (err instanceof TypeError) return true // `null` or garbage: not our origin
    throw err
  }
}
