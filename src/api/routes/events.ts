// GET /v1/events: server-sent events of record changes (`record`), liveness (`node`), the coordinator, job and service views.
import type { ServerResponse } from 'node:http'
import type { CoordinatorView } from '../../coordinator/index.js'
import { ServiceNotFoundError, TooManyEventClientsError } from '../../errors.js'
import type { Liveness } from '../../membership/index.js'
import { kindOf, type RecordChange } from '../../state/index.js'
import type { ApiContext } from '../context.js'
import { redactEnvReplacer } from '../redact.js'
import type { Route } from '../router.js'
import type { JobView, NodeStateEvent, RecordEvent, ServiceEvent } from '../types.js'

/** A client that cannot keep up is cut off once this much is waiting for it; it reconnects and re-reads. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024
const KEEPALIVE_MS = 15_000

/** `maxClients` streams at once over both listeners; over TCP every `env` object's values are redacted. */
export function eventRoutes(ctx: ApiContext, maxClients: number): Route[] {
  let clients = 0
  return [
    {
      method: 'GET',
      path: '/v1/events',
      handle({ res, url, remote }) {
        if (clients >= maxClients) {
          throw new TooManyEventClientsError(
            `${maxClients} event streams are open (--max-event-clients); close one or retry later`,
          )
        }
        clients++
        res.once('close', () => clients--)
        streamEvents(ctx, res, url, remote)
      },
    },
  ]
}

function streamEvents(ctx: ApiContext, res: ServerResponse, url: URL, remote: boolean): void {
  const replacer = remote ? redactEnvReplacer : undefined
  const kinds = url.searchParams.get('kinds')?.split(',').filter(Boolean)
  const wanted = kinds === undefined || kinds.length === 0 ? undefined : new Set(kinds)
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  })
  res.write('retry: 2000\n\n')

  const send = (event: string, data: unknown): void => {
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      res.destroy()
      return
    }
    res.write(`event: ${event}\ndata: ${JSON.stringify(data, replacer)}\n\n`)
  }
  const onRecord = ({ record, source }: RecordChange): void => {
    // A record withdrawn with its coordinator's term is not streamed: clients see the version that follows.
    if (record === undefined || source === 'fence') return
    const kind = kindOf(record.key)
    if (wanted !== undefined && !wanted.has(kind)) return
    const event: RecordEvent = {
      key: record.key,
      kind,
      value: record.value,
      deleted: record.deleted,
      origin: record.origin,
      term: record.term,
      stamp: { wall: record.stamp.wall, counter: record.stamp.counter },
      source,
    }
    send('record', event)
  }
  const onNodeState = (peer: string, state: Liveness, previous: Liveness | undefined): void => {
    // A node we have no record of yet is named by its peer id.
    const name = ctx.membership.nodes({ all: true }).find((node) => node.id === peer)?.name ?? peer
    const event: NodeStateEvent = { id: peer, name, state, previous: previous ?? null }
    send('node', event)
  }
  const onCoordinator = (view: CoordinatorView): void => send('coordinator', view)
  const onJobViews = (views: JobView[]): void => {
    for (const view of views) send('job', view)
  }
  const onService = (name: string, removed: boolean): void => {
    send('service', removed ? removedService(name) : serviceEvent(ctx, name))
  }
  // Views are built only while some client wants them.
  const wantsJobs = wanted === undefined || wanted.has('job')
  const wantsServices = wanted === undefined || wanted.has('service')
  const keepalive = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS)
  const unwatch = ctx.state.watchAll(onRecord)
  ctx.membership.on('peer:state', onNodeState)
  ctx.coordinator.on('change', onCoordinator)
  if (wantsJobs) ctx.jobs.on('job:views', onJobViews)
  if (wantsServices) ctx.services.on('service:changed', onService)
  res.on('close', () => {
    clearInterval(keepalive)
    ctx.jobs.off('job:views', onJobViews)
    ctx.services.off('service:changed', onService)
    unwatch()
    ctx.membership.off('peer:state', onNodeState)
    ctx.coordinator.off('change', onCoordinator)
  })
}

const removedService = (name: string): ServiceEvent => ({ name, removed: true })

/** The service's view now; one removed since the change was announced is sent as removed. */
function serviceEvent(ctx: ApiContext, name: string): ServiceEvent {
  try {
    const view = ctx.services.status(name)
    // Names resolve as prefixes too: with `name` gone, `name-2` would answer in its place.
    return view.name === name ? view : removedService(name)
  } catch (err) {
    if (err instanceof ServiceNotFoundError) return removedService(name)
    throw err
  }
}
