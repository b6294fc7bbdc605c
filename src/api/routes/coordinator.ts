// GET /v1/coordinator: who holds the coordinator role, under which term, as this node sees it.
import type { ApiContext } from '../context.js'
import { sendJson } from '../http.js'
import type { Route } from '../router.js'

export function coordinatorRoutes(ctx: ApiContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/coordinator',
      handle: ({ res }) => sendJson(res, 200, ctx.coordinator.view()),
    },
  ]
}
