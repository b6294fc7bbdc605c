// The API server: the same routes on an owner-only unix socket (everything) and on TCP (reads; token off loopback).
import { timingSafeEqual } from 'node:crypto'
import { rm } from 'node:fs/promises'
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import {
  asShoalError,
  BadHostError,
  BadRequestError,
  CrossOriginError,
  MethodNotAllowedError,
  NotFoundError,
  UnauthorizedError,
} from '../errors.js'
import { partLogger } from '../logger.js'
import { answerClientError } from './client-errors.js'
import {
  CONNECTIONS_CHECK_INTERVAL_MS,
  DEFAULT_MAX_EVENT_CLIENTS,
  HEADERS_TIMEOUT_MS,
  MAX_HEADER_BYTES,
  REQUEST_TIMEOUT_MS,
} from './constants.js'
import type { ApiComponents, ApiContext, ApiInit } from './context.js'
import { HostPolicy, isCrossOriginWrite, isLoopbackHost } from './host-policy.js'
import { sendError } from './http.js'
import { listen, listenOwnerOnly } from './listen.js'
import { Router } from './router.js'
import { coordinatorRoutes } from './routes/coordinator.js'
import { eventRoutes } from './routes/events.js'
import { imageRoutes } from './routes/images.js'
import { jobRoutes } from './routes/jobs.js'
import { metricsRoutes } from './routes/metrics.js'
import { nodeRoutes } from './routes/nodes.js'
import { registryRoutes } from './routes/registry.js'
import { serviceRoutes } from './routes/services.js'
import { statsRoutes } from './routes/stats.js'
import { statusRoutes } from './routes/status.js'
import { webRoutes } from './routes/web.js'
import { statusOf } from './status.js'

/** Both listeners: short timeouts so that a malformed or trickled request is answered and closed, not held. */
const SERVER_OPTIONS: ServerOptions = {
  headersTimeout: HEADERS_TIMEOUT_MS,
  requestTimeout: REQUEST_TIMEOUT_MS,
  connectionsCheckingInterval: CONNECTIONS_CHECK_INTERVAL_MS,
  maxHeaderSize: MAX_HEADER_BYTES,
  // The Host header is checked by HostPolicy on TCP (a JSON 421), and means nothing on the socket.
  requireHostHeader: false,
}

export class ApiServer {
  private socketServer: Server | undefined
  private tcpServer: Server | undefined
  private readonly router = new Router()
  private readonly log: Logger
  private tcpUrl = ''
  private readonly hosts: HostPolicy

  constructor(
    components: ApiComponents,
    private readonly init: ApiInit,
  ) {
    this.log = partLogger(components.logger, 'api')
    const ctx: ApiContext = { ...components, facts: init.facts, httpUrl: () => this.tcpUrl }
    this.router.add(
      ...statusRoutes(ctx),
      ...nodeRoutes(ctx),
      ...coordinatorRoutes(ctx),
      ...imageRoutes(ctx),
      ...jobRoutes(ctx),
      ...serviceRoutes(ctx),
      ...registryRoutes(ctx),
      ...eventRoutes(ctx, init.maxEventClients ?? DEFAULT_MAX_EVENT_CLIENTS),
      ...metricsRoutes(ctx),
      ...statsRoutes(ctx),
      ...webRoutes(),
    )
    if (!isLoopbackHost(init.httpHost) && (init.token === undefined || init.token.length < 16)) {
      throw new TypeError('an HTTP listener off loopback needs a token of at least 16 characters')
    }
    this.hosts = new HostPolicy(init.httpNames ?? [], init.httpHost)
  }

  get httpUrl(): string {
    return this.tcpUrl
  }

  async start(): Promise<void> {
    if (this.tcpServer !== undefined) return
    const tcpServer = createServer(SERVER_OPTIONS, (req, res) => void this.dispatch(req, res, true))
    tcpServer.on('clientError', answerClientError)
    await listen(tcpServer, { host: this.init.httpHost, port: this.init.httpPort })
    this.tcpServer = tcpServer
    const address = tcpServer.address() as AddressInfo
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
    this.tcpUrl = `http://${host}:${address.port}`

    // The socket opens last: clients take it answering to mean the daemon is ready, status included.
    const socketServer = createServer(SERVER_OPTIONS, (req, res) => void this.dispatch(req, res, false))
    socketServer.on('clientError', answerClientError)
    await listenOwnerOnly(socketServer, this.init.socketPath, this.init.socketGid)
    this.socketServer = socketServer
    this.log.info({ socket: this.init.socketPath, http: this.tcpUrl }, 'API listening')
  }

  async stop(): Promise<void> {
    const servers = [this.socketServer, this.tcpServer].filter((server) => server !== undefined)
    this.socketServer = undefined
    this.tcpServer = undefined
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve())
            // Event streams never end on their own: close every connection now.
            server.closeAllConnections()
          }),
      ),
    )
    await rm(this.init.socketPath, { force: true })
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, remote: boolean): Promise<void> {
    let url = new URL('http://shoal.invalid/')
    try {
      url = requestUrl(req)
      if (remote) this.checkRemote(req, url)
      const match = this.router.match(req.method ?? 'GET', url.pathname)
      if (match === undefined) throw new NotFoundError(`no such endpoint: ${req.method} ${url.pathname}`)
      if ('methods' in match) {
        res.setHeader('allow', match.methods.join(', '))
        throw new MethodNotAllowedError(
          `${url.pathname} supports ${match.methods.join(', ')}, not ${req.method}`,
        )
      }
      if (remote && match.route.socketOnly === true) {
        throw new MethodNotAllowedError(`${req.method} ${url.pathname} is only served on the unix socket`)
      }
      await match.route.handle({ req, res, url, params: match.params, remote })
    } catch (err) {
      const error = asShoalError(err)
      if (statusOf(error) >= 500) this.log.error({ err, path: url.pathname }, 'request failed')
      sendError(res, error)
    }
  }

  /** TCP only, in this order: a Host we serve, then the token (off loopback), then no cross-origin write. */
  private checkRemote(req: IncomingMessage, url: URL): void {
    if (!this.hosts.allows(req)) {
      throw new BadHostError(
        `Host "${req.headers.host ?? ''}" is not loopback, this listener's address or a --http-name`,
      )
    }
    if (!this.authorized(req, url)) throw new UnauthorizedError('a valid token is required')
    if (isCrossOriginWrite(req)) {
      throw new CrossOriginError(`a ${req.method} from another origin (${req.headers.origin ?? 'unnamed'})`)
    }
  }

  private authorized(req: IncomingMessage, url: URL): boolean {
    const token = this.init.token
    if (isLoopbackHost(this.init.httpHost) || token === undefined) return true
    const header = req.headers.authorization
    const given =
      header?.startsWith('Bearer ') === true ? header.slice(7) : (url.searchParams.get('token') ?? '')
    const a = Buffer.from(given)
    const b = Buffer.from(token)
    return a.length === b.length && timingSafeEqual(a, b)
  }
}

/**
 * The request's URL. Only origin-form targets (`/path?query`) are served: an absolute-form or malformed one
 * (`http://[`, `//host/x`) is a bad request rather than a URL parsed against some other host.
 */
function requestUrl(req: IncomingMessage): URL {
  const target = req.url ?? '/'
  if (!target.startsWith('/') || target.startsWith('//')) {
    throw new BadRequestError(`the request target must be a path, got "${target.slice(0, 100)}"`)
  }
  try {
    return new URL(target, 'http://shoal.invalid')
  } catch (err) {
    if (err instanceof TypeError) throw new BadRequestError(`the request target is not a valid path`)
    throw err
  }
}
