// GET /metrics: Prometheus text exposition of this daemon's registry.
import type { ApiContext } from '../context.js'
import type { Route } from '../router.js'

export function metricsRoutes(ctx: ApiContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/metrics',
      handle: async ({ res }) => {
        const text = await ctx.metrics.metrics()
        res.writeHead(200, { 'content-type': ctx.metrics.contentType, 'cache-control': 'no-store' })
        res.end(text)
      },
    },
  ]
}
