// Limits of the local API's HTTP listeners, and where each number comes from.

/**
 * A request's line and headers must arrive within this long. Clients on loopback or a LAN send them in one
 * packet; a slowloris client that trickles them holds a socket for at most this long (plus one check interval).
 * Node's default is 60 s.
 */
export const HEADERS_TIMEOUT_MS = 1_500

/** The whole request, body included (job submissions are read in full before anything is written). */
export const REQUEST_TIMEOUT_MS = 30_000

/** How often node:http looks for requests past those timeouts (its default, 30 s, would dwarf them). */
export const CONNECTIONS_CHECK_INTERVAL_MS = 250

/** Request line and headers together: node's default, written down so that the 431 it causes is documented. */
export const MAX_HEADER_BYTES = 16 * 1024

/** Event streams open at once over both listeners (`--max-event-clients`): each holds a socket and watchers. */
export const DEFAULT_MAX_EVENT_CLIENTS = 64

/** What an env value is replaced with over TCP: names stay visible, values never leave the socket. */
export const REDACTED = '***'

/**
 * `POST /v1/services` with a whole spec file: each service fits a 48 KiB record (MAX_SERVICE_SPEC_BYTES), so this
 * holds some eighty of the largest, and far more of the usual few hundred bytes.
 */
export const MAX_SERVICES_BODY_BYTES = 4 * 1024 * 1024
