// Services: add (one spec or an array), list, status, the controller actions, update, vars, remove, logs.
import { BadRequestError, InvalidServiceError } from '../../errors.js'
import { MAX_REPLICAS } from '../../services/constants.js'
import { MAX_SERVICES_BODY_BYTES } from '../constants.js'
import type { ApiContext } from '../context.js'
import { queryFlag, readJson, sendJson } from '../http.js'
import { sendLogStream } from '../log-stream.js'
import { redactServiceView } from '../redact.js'
import type { Route } from '../router.js'

/** The actions that take no body and answer the service's view. */
const ACTIONS = ['start', 'stop', 'restart', 'reset'] as const

export function serviceRoutes(ctx: ApiContext): Route[] {
  const services = ctx.services
  return [
    {
      method: 'POST',
      path: '/v1/services',
      socketOnly: true,
      async handle({ req, res }) {
        const body = await readJson(req, MAX_SERVICES_BODY_BYTES)
        if (Array.isArray(body)) {
          if (body.length === 0) throw new InvalidServiceError('the list of services is empty')
          sendJson(res, 201, await services.add(body))
          return
        }
        const [view] = await services.add([body])
        sendJson(res, 201, view)
      },
    },
    {
      method: 'GET',
      path: '/v1/services',
      handle({ res, remote }) {
        const list = services.list()
        sendJson(res, 200, remote ? list.map(redactServiceView) : list)
      },
    },
    {
      method: 'GET',
      path: '/v1/services/:name',
      handle({ res, params, remote }) {
        const view = services.status(params.name!)
        sendJson(res, 200, remote ? redactServiceView(view) : view)
      },
    },
    {
      method: 'PUT',
      path: '/v1/services/:name',
      socketOnly: true,
      async handle({ req, res, params }) {
        const body = await readJson(req, MAX_SERVICES_BODY_BYTES)
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw new InvalidServiceError(
            'expected one service spec (a JSON object) to replace the current one',
          )
        }
        sendJson(res, 200, await services.update(params.name!, body))
      },
    },
    {
      method: 'DELETE',
      path: '/v1/services/:name',
      socketOnly: true,
      async handle({ res, params }) {
        // The answer names the service the reference resolved to (a prefix may have been given).
        const { name } = services.status(params.name!)
        await services.remove(name)
        sendJson(res, 200, { name, removed: true })
      },
    },
    ...ACTIONS.map(
      (action): Route => ({
        method: 'POST',
        path: `/v1/services/:name/${action}`,
        socketOnly: true,
        handle: async ({ res, params }) => sendJson(res, 200, await services[action](params.name!)),
      }),
    ),
    {
      method: 'POST',
      path: '/v1/services/:name/scale',
      socketOnly: true,
      async handle({ req, res, params }) {
        const body = (await readJson(req, 64 * 1024)) as { replicas?: unknown } | null
        if (typeof body !== 'object' || body === null || !('replicas' in body)) {
          throw new BadRequestError('expected { "replicas": <whole number> }')
        }
        sendJson(res, 200, await services.scale(params.name!, checkReplicas(body.replicas)))
      },
    },
    {
      method: 'GET',
      path: '/v1/services/:name/vars',
      handle: ({ res, params }) => sendJson(res, 200, services.vars(params.name!)),
    },
    {
      method: 'GET',
      path: '/v1/services/:name/logs',
      async handle({ res, url, params }) {
        const slot = slotParam(url)
        await sendLogStream(res, (signal) =>
          services.logs(params.name!, { slot, follow: queryFlag(url, 'follow'), signal }),
        )
      },
    },
  ]
}

/** Checked here as well as by the service, so that a bad count is refused before the name is even looked up. */
function checkReplicas(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new InvalidServiceError(`replicas is a whole number, got ${JSON.stringify(value)}`)
  }
  if (value < 0) throw new InvalidServiceError(`replicas cannot be negative, got ${value}`)
  if (value > MAX_REPLICAS) throw new InvalidServiceError(`at most ${MAX_REPLICAS} replicas, got ${value}`)
  return value
}

/** `?slot=I`: an instance's slot, from 0 (the service picks slot 0 without it). */
function slotParam(url: URL): number | undefined {
  const text = url.searchParams.get('slot')
  if (text === null || text === '') return undefined
  const slot = Number(text)
  if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_REPLICAS) {
    throw new BadRequestError(`slot must be a whole number from 0 to ${MAX_REPLICAS - 1}, got "${text}"`)
  }
  return slot
}
