// Images and layers: POST /v1/images/pull (streams progress as JSON lines), GET /v1/images, DELETE /v1/images, GET /v1/layers.
import { z } from 'zod'
import { asShoalError, BadRequestError } from '../../errors.js'
import type { ApiContext } from '../context.js'
import { nodeParam, queryFlag, readJson, sendJson } from '../http.js'
import type { Route } from '../router.js'

const pullRequest = z.strictObject({ ref: z.string().min(1).max(512) })

export function imageRoutes(ctx: ApiContext): Route[] {
  const scope = (url: URL) => ({ all: queryFlag(url, 'all'), node: nodeParam(ctx, url) })
  return [
    {
      method: 'POST',
      path: '/v1/images/pull',
      socketOnly: true,
      async handle({ req, res }) {
        const body = pullRequest.safeParse(await readJson(req, 4096))
        if (!body.success) throw new BadRequestError('expected { "ref": "<image reference>" }')
        const controller = new AbortController()
        res.on('close', () => {
          if (!res.writableFinished) controller.abort()
        })
        res.writeHead(200, {
          'content-type': 'application/x-ndjson; charset=utf-8',
          'cache-control': 'no-store',
        })
        const line = (value: unknown): void => {
          res.write(`${JSON.stringify(value)}\n`)
        }
        try {
          const result = await ctx.layers.pull(body.data.ref, line, controller.signal)
          line({ type: 'result', ...result })
        } catch (err) {
          const error = asShoalError(err)
          line({ type: 'error', error: { code: error.code, message: error.message } })
        }
        res.end()
      },
    },
    {
      method: 'GET',
      path: '/v1/images',
      handle: ({ res, url }) => sendJson(res, 200, ctx.layers.imageViews(scope(url))),
    },
    {
      method: 'DELETE',
      path: '/v1/images',
      socketOnly: true,
      async handle({ res, url }) {
        const ref = url.searchParams.get('ref')
        if (ref === null || ref === '') throw new BadRequestError('expected ?ref=<image reference>')
        sendJson(res, 200, await ctx.layers.removeImage(ref))
      },
    },
    {
      method: 'GET',
      path: '/v1/layers',
      handle: ({ res, url }) => sendJson(res, 200, ctx.layers.layerViews(scope(url))),
    },
  ]
}
