// GET /v1/nodes (?all=1 adds dead and left nodes) and GET /v1/nodes/:id (peer id, name, or id tail).
import type { ApiContext } from '../context.js'
import { queryFlag, sendJson } from '../http.js'
import type { Route } from '../router.js'

export function nodeRoutes(ctx: ApiContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/nodes',
      handle: ({ res, url }) => sendJson(res, 200, ctx.membership.nodes({ all: queryFlag(url, 'all') })),
    },
    {
      method: 'GET',
      path: '/v1/nodes/:id',
      handle: ({ res, params }) => sendJson(res, 200, ctx.membership.node(params.id!)),
    },
  ]
}
