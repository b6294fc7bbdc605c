// GET /v1/nodes (?all=1 adds dead and left nodes; usage asked live), GET /v1/nodes/:id, drain, undrain and labels.
import { z } from 'zod'
import { BadRequestError } from '../../errors.js'
import { LABEL_KEY } from '../../util/parse.js'
import type { ApiContext } from '../context.js'
import { queryFlag, readJson, sendJson } from '../http.js'
import type { Route } from '../router.js'

/** `{ "set": { "zone": "b" }, "remove": ["rack"] }`. */
const labelChange = z.object({
  set: z.record(z.string().regex(LABEL_KEY), z.string().max(256)).default({}),
  remove: z.array(z.string().regex(LABEL_KEY)).max(64).default([]),
})

export function nodeRoutes(ctx: ApiContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/nodes',
      handle: async ({ res, url }) =>
        sendJson(res, 200, await ctx.membership.nodesLive({ all: queryFlag(url, 'all') })),
    },
    {
      method: 'GET',
      path: '/v1/nodes/:id',
      handle: async ({ res, params }) => sendJson(res, 200, await ctx.membership.nodeLive(params.id!)),
    },
    {
      method: 'POST',
      path: '/v1/nodes/:id/drain',
      socketOnly: true,
      handle: async ({ res, params }) =>
        sendJson(res, 200, await ctx.membership.changeSettings(params.id!, { drained: true })),
    },
    {
      method: 'POST',
      path: '/v1/nodes/:id/undrain',
      socketOnly: true,
      handle: async ({ res, params }) =>
        sendJson(res, 200, await ctx.membership.changeSettings(params.id!, { drained: false })),
    },
    {
      method: 'POST',
      path: '/v1/nodes/:id/labels',
      socketOnly: true,
      async handle({ req, res, params }) {
        const body = labelChange.safeParse(await readJson(req, 64 * 1024))
        if (!body.success) {
          throw new BadRequestError('expected { "set": { "<key>": "<value>", … }, "remove": ["<key>", …] }')
        }
        const labels: Record<string, string | null> = { ...body.data.set }
        for (const key of body.data.remove) labels[key] = null
        sendJson(res, 200, await ctx.membership.changeSettings(params.id!, { labels }))
      },
    },
  ]
}
