// Jobs: POST /v1/jobs (one spec or an array), GET /v1/jobs[/:id] (env values redacted on TCP), cancel, retry, wait, logs.
import { z } from 'zod'
import { BadRequestError } from '../../errors.js'
import { type JobListQuery, jobConstants } from '../../jobs/index.js'
import { isJobState, JOB_STATES, type JobState } from '../../jobs/states.js'
import { parseLabel } from '../../util/parse.js'
import type { ApiContext } from '../context.js'
import { nodeParam, queryFlag, readJson, sendJson } from '../http.js'
import { sendLogStream } from '../log-stream.js'
import { redactJobView } from '../redact.js'
import type { Route } from '../router.js'

const waitRequest = z.strictObject({
  ids: z.array(z.string().min(1).max(64)).min(1).max(jobConstants.MAX_JOBS_PER_SUBMISSION),
  timeoutMs: z
    .number()
    .int()
    .positive()
    .max(7 * 24 * 3_600_000),
})

export function jobRoutes(ctx: ApiContext): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/jobs',
      socketOnly: true,
      async handle({ req, res }) {
        const body = await readJson(req, jobConstants.MAX_SUBMISSION_BYTES)
        if (Array.isArray(body)) {
          const result = await ctx.jobs.submit(body)
          sendJson(res, result.created > 0 ? 201 : 200, result)
          return
        }
        const result = await ctx.jobs.submit([body])
        sendJson(res, result.created > 0 ? 201 : 200, result.jobs[0])
      },
    },
    {
      method: 'GET',
      path: '/v1/jobs',
      handle({ res, url, remote }) {
        const list = ctx.jobs.list(listQuery(ctx, url))
        sendJson(res, 200, remote ? { ...list, jobs: list.jobs.map(redactJobView) } : list)
      },
    },
    {
      method: 'POST',
      path: '/v1/jobs/wait',
      socketOnly: true,
      async handle({ req, res }) {
        const body = waitRequest.safeParse(await readJson(req, 8 * 1024 * 1024))
        if (!body.success) throw new BadRequestError('expected { "ids": ["<job id>", …], "timeoutMs": <ms> }')
        const controller = new AbortController()
        res.on('close', () => controller.abort())
        sendJson(res, 200, await ctx.jobs.wait(body.data.ids, body.data.timeoutMs, controller.signal))
      },
    },
    {
      method: 'GET',
      path: '/v1/jobs/:id',
      handle({ res, params, remote }) {
        const view = ctx.jobs.view(params.id!)
        sendJson(res, 200, remote ? redactJobView(view) : view)
      },
    },
    {
      method: 'POST',
      path: '/v1/jobs/:id/cancel',
      socketOnly: true,
      handle: async ({ res, params }) => sendJson(res, 200, await ctx.jobs.cancel(params.id!)),
    },
    {
      method: 'POST',
      path: '/v1/jobs/:id/retry',
      socketOnly: true,
      handle: async ({ res, params }) => sendJson(res, 200, await ctx.jobs.retry(params.id!)),
    },
    {
      method: 'GET',
      path: '/v1/jobs/:id/logs',
      async handle({ res, url, params }) {
        const attemptText = url.searchParams.get('attempt')
        const attempt = attemptText === null ? undefined : Number(attemptText)
        if (attempt !== undefined && !(Number.isInteger(attempt) && attempt >= 1)) {
          throw new BadRequestError(`attempt must be a whole number from 1, got "${attemptText}"`)
        }
        await sendLogStream(res, (signal) =>
          ctx.jobs.logs(params.id!, { attempt, follow: queryFlag(url, 'follow'), signal }),
        )
      },
    },
  ]
}

function listQuery(ctx: ApiContext, url: URL): JobListQuery {
  const query: JobListQuery = {}
  // Several states: `state=running,pending` or `state` repeated.
  const states = url.searchParams
    .getAll('state')
    .flatMap((text) => text.split(','))
    .filter((text) => text !== '')
  for (const state of states) {
    if (!isJobState(state)) {
      throw new BadRequestError(`state must be one of ${JOB_STATES.join(', ')}; got "${state}"`)
    }
  }
  if (states.length > 0) query.states = states as JobState[]
  const name = url.searchParams.get('name')
  if (name !== null && name !== '') query.name = name
  const tags = url.searchParams.getAll('tag')
  if (tags.length > 0) {
    query.tags = {}
    for (const tag of tags) {
      const [key, value] = parseLabel(tag, 'tag', BadRequestError)
      query.tags[key] = value
    }
  }
  const node = nodeParam(ctx, url)
  if (node !== undefined) query.node = node
  for (const name of ['limit', 'offset'] as const) {
    const text = url.searchParams.get(name)
    if (text === null) continue
    const value = Number(text)
    if (!Number.isInteger(value) || value < 0)
      throw new BadRequestError(`${name} must be a whole number, got "${text}"`)
    query[name] = value
  }
  return query
}
