// The services API: add, list, status, actions, update, vars, remove, logs and events, asked of a node that runs no instance.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceEvent, ServiceView, SlotVars } from '../../src/api/types.js'
import { type ApiAnswer, apiRequest, errorCodeOf } from '../helpers/api-requests.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { waitFor } from '../helpers/wait.js'

/** This file's instance processes (their sleep has a duration nothing else uses). */
async function instanceProcesses(): Promise<string[]> {
  const { stdout } = await promisify(execFile)('ps', ['-eo', 'pid=,args='])
  return stdout.split('\n').filter((line) => /\bsleep 3027\b/.test(line))
}

/** An exec service pinned by its constraint to the node labelled role=runner. */
const pinned = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  command: ['sh', '-c', `echo ${name} says hello; exec sleep 3027`],
  constraints: { role: 'runner' },
  env: { TOKEN: 'secret-value' },
  vars: { count: 1 },
  ...extra,
})

describe('the services API', () => {
  let a: TestNode
  let b: TestNode
  const socket = () => ({ socketPath: `${a.dataDir}/shoal.sock` })
  const tcp = () => ({ httpUrl: a.daemon.api.httpUrl })
  const send = (method: string, path: string, body?: unknown): Promise<ApiAnswer> =>
    apiRequest(socket(), {
      method,
      path,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    })
  const json = <T>(answer: ApiAnswer): T => JSON.parse(answer.body) as T
  const view = async (name: string): Promise<ServiceView> => json(await send('GET', `/v1/services/${name}`))
  const waitForView = (what: string, name: string, ok: (view: ServiceView) => boolean) =>
    waitFor(
      `${name}: ${what}`,
      async () => {
        const current = await view(name)
        return ok(current) ? current : undefined
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    )

  beforeAll(async () => {
    a = await startNode({ name: 'svc-a' })
    b = await startNode({ name: 'svc-b', join: a, labels: { role: 'runner' } })
    await waitFor('a to see b alive', () => a.daemon.membership.livenessOf(b.daemon.peerId) === 'alive')
  })
  afterAll(async () => {
    // Instances are processes of b: removed first, so that none outlives the test.
    for (const { name } of a.daemon.services.list()) await a.daemon.services.remove(name)
    await waitFor('b to end every instance process', async () => (await instanceProcesses()).length === 0, {
      timeoutMs: 30_000,
    })
    await destroyNodes([a, b])
  })

  it('adds one spec (201, its view) or a list (201, the views), and refuses a name in use, writing nothing', async () => {
    const one = await send('POST', '/v1/services', pinned('web'))
    expect(one.status, one.body).toBe(201)
    expect(json<ServiceView>(one)).toMatchObject({
      name: 'web',
      driver: 'exec',
      replicas: 1,
      desired: 'running',
    })

    const list = await send('POST', '/v1/services', [
      pinned('batch-a', { replicas: 0 }),
      pinned('batch-b', { replicas: 0 }),
    ])
    expect(list.status, list.body).toBe(201)
    expect(json<ServiceView[]>(list).map((v) => v.name)).toEqual(['batch-a', 'batch-b'])

    // All or nothing: a new name beside a taken one adds neither.
    const taken = await send('POST', '/v1/services', [pinned('batch-c'), pinned('web')])
    expect(taken.status).toBe(409)
    expect(errorCodeOf(taken)).toBe('SHOAL_SERVICE_EXISTS')
    const names = json<ServiceView[]>(await send('GET', '/v1/services')).map((v) => v.name)
    expect(names.sort()).toEqual(['batch-a', 'batch-b', 'web'])
  })

  it('refuses malformed bodies and unknown names with their codes', async () => {
    const cases: Array<[string, string, unknown, number, string]> = [
      ['POST', '/v1/services', '{not json', 400, 'SHOAL_BAD_REQUEST'],
      ['POST', '/v1/services', [], 400, 'SHOAL_INVALID_SERVICE'],
      ['POST', '/v1/services', pinned('neg', { replicas: -1 }), 400, 'SHOAL_INVALID_SERVICE'],
      ['POST', '/v1/services', { ...pinned('bad'), colour: 'blue' }, 400, 'SHOAL_INVALID_SERVICE'],
      ['POST', '/v1/services', { name: 'nocmd' }, 400, 'SHOAL_INVALID_SERVICE'],
      ['POST', '/v1/services/web/scale', {}, 400, 'SHOAL_BAD_REQUEST'],
      ['POST', '/v1/services/web/scale', { replicas: -1 }, 400, 'SHOAL_INVALID_SERVICE'],
      ['POST', '/v1/services/web/scale', { replicas: 1.5 }, 400, 'SHOAL_INVALID_SERVICE'],
      ['POST', '/v1/services/web/scale', { replicas: '2' }, 400, 'SHOAL_INVALID_SERVICE'],
      ['PUT', '/v1/services/web', [pinned('web')], 400, 'SHOAL_INVALID_SERVICE'],
      ['GET', '/v1/services/web/logs?slot=first', undefined, 400, 'SHOAL_BAD_REQUEST'],
      ['GET', '/v1/services/nope', undefined, 404, 'SHOAL_SERVICE_NOT_FOUND'],
      ['GET', '/v1/services/nope/vars', undefined, 404, 'SHOAL_SERVICE_NOT_FOUND'],
      ['GET', '/v1/services/nope/logs', undefined, 404, 'SHOAL_SERVICE_NOT_FOUND'],
      ['PUT', '/v1/services/nope', pinned('nope'), 404, 'SHOAL_SERVICE_NOT_FOUND'],
      ['DELETE', '/v1/services/nope', undefined, 404, 'SHOAL_SERVICE_NOT_FOUND'],
      ['POST', '/v1/services/nope/scale', { replicas: 2 }, 404, 'SHOAL_SERVICE_NOT_FOUND'],
      ...(['start', 'stop', 'restart', 'reset'] as const).map(
        (action): [string, string, unknown, number, string] => [
          'POST',
          `/v1/services/nope/${action}`,
          undefined,
          404,
          'SHOAL_SERVICE_NOT_FOUND',
        ],
      ),
    ]
    const before = await view('web')
    for (const [method, path, body, status, code] of cases) {
      const answer = await send(method, path, body)
      expect(answer.status, `${method} ${path}: ${answer.body}`).toBe(status)
      expect(errorCodeOf(answer), `${method} ${path}`).toBe(code)
    }
    const after = await view('web')
    expect([after.replicas, after.generation]).toEqual([before.replicas, before.generation])
    expect(
      json<ServiceView[]>(await send('GET', '/v1/services'))
        .map((v) => v.name)
        .sort(),
    ).toEqual(['batch-a', 'batch-b', 'web'])
  })

  it('serves reads on TCP with env values hidden, and changes only on the socket', async () => {
    const list = (await (await fetch(`${tcp().httpUrl}/v1/services`)).json()) as ServiceView[]
    expect(list.find((v) => v.name === 'web')?.env).toEqual({ TOKEN: '***' })
    const one = (await (await fetch(`${tcp().httpUrl}/v1/services/web`)).json()) as ServiceView
    expect(one.env).toEqual({ TOKEN: '***' })
    expect((await view('web')).env).toEqual({ TOKEN: 'secret-value' })
    for (const [method, path] of [
      ['POST', '/v1/services'],
      ['POST', '/v1/services/web/stop'],
      ['PUT', '/v1/services/web'],
      ['DELETE', '/v1/services/web'],
    ] as const) {
      const answer = await apiRequest(tcp(), { method, path, body: '{}' })
      expect(answer.status, `${method} ${path}`).toBe(405)
      expect(errorCodeOf(answer)).toBe('SHOAL_METHOD_NOT_ALLOWED')
    }
  })

  it('runs every action asked of a node that runs no instance', async () => {
    const running = await waitForView('running on b', 'web', (v) => v.ready === 1)
    expect(running.instances[0]).toMatchObject({ slot: 0, node: b.daemon.peerId, nodeName: 'svc-b' })

    const logs = await waitFor('the instance to have written its line', async () => {
      const answer = await send('GET', '/v1/services/web/logs?slot=0')
      return answer.status === 200 && answer.body.includes('web says hello') ? answer : undefined
    })
    expect(logs.headers['content-type']).toMatch(/^text\/plain/)

    const stopped = await send('POST', '/v1/services/web/stop')
    expect(stopped.status, stopped.body).toBe(200)
    expect(json<ServiceView>(stopped).desired).toBe('stopped')
    await waitForView('stopped', 'web', (v) => v.ready === 0 && v.instances[0]?.state === 'stopped')
    expect(json<ServiceView>(await send('POST', '/v1/services/we/start')).desired).toBe('running')
    await waitForView('running again', 'web', (v) => v.ready === 1)

    const beforeRestart = await view('web')
    const restarted = json<ServiceView>(await send('POST', '/v1/services/web/restart'))
    expect(restarted.generation).toBeGreaterThan(beforeRestart.generation)
    await waitForView('on the new generation', 'web', (v) => v.appliedGeneration === restarted.generation)

    const scaled = await send('POST', '/v1/services/web/scale', { replicas: 2 })
    expect(scaled.status, scaled.body).toBe(200)
    await waitForView('two ready', 'web', (v) => v.ready === 2)

    const updated = await send('PUT', '/v1/services/web', pinned('web', { replicas: 2, vars: { count: 5 } }))
    expect(updated.status, updated.body).toBe(200)
    const next = json<ServiceView>(updated)
    expect(next.generation).toBeGreaterThan(restarted.generation)
    expect(next.initialVars).toEqual({ count: 5 })
    await waitForView(
      'both on the update',
      'web',
      (v) => v.ready === 2 && v.instances.every((i) => i.generation === next.generation),
    )
    const renamed = await send('PUT', '/v1/services/web', pinned('other'))
    expect(renamed.status).toBe(400)
    expect(errorCodeOf(renamed)).toBe('SHOAL_INVALID_SERVICE')

    expect((await send('POST', '/v1/services/web/reset')).status).toBe(200)
    const vars = json<SlotVars[]>(await send('GET', '/v1/services/web/vars'))
    expect(vars.map((slot) => [slot.slot, slot.values])).toEqual([
      [0, { count: 5 }],
      [1, { count: 5 }],
    ])
  })

  it('streams service views as events (env hidden on TCP), and their removal', async () => {
    const controller = new AbortController()
    const open = async (kinds: string) => {
      const res = await fetch(`${tcp().httpUrl}/v1/events?kinds=${kinds}`, { signal: controller.signal })
      return { reader: res.body!.getReader(), buffer: '' }
    }
    const page = await open('service')
    const other = await open('test')
    const decoder = new TextDecoder()
    const events = () =>
      [...page.buffer.matchAll(/event: service\ndata: (.*)\n\n/g)].map(
        (m) => JSON.parse(m[1]!) as ServiceEvent,
      )
    const until = (what: string, ok: (event: ServiceEvent) => boolean) =>
      waitFor(what, async () => {
        const { value } = await page.reader.read()
        page.buffer += decoder.decode(value)
        return events().find(ok)
      })
    expect((await send('POST', '/v1/services', pinned('live', { replicas: 0 }))).status).toBe(201)
    const added = await until('the new service', (event) => event.name === 'live' && !('removed' in event))
    expect(added).toMatchObject({ name: 'live', replicas: 0, env: { TOKEN: '***' } })
    expect((await send('DELETE', '/v1/services/live')).status).toBe(200)
    await until('its removal', (event) => event.name === 'live' && 'removed' in event)
    expect(json<ServiceView[]>(await send('GET', '/v1/services')).map((v) => v.name)).not.toContain('live')

    await b.daemon.state.put('test/after-services', { n: 1 })
    await waitFor('the record after them', async () => {
      const { value } = await other.reader.read()
      other.buffer += decoder.decode(value)
      return other.buffer.includes('test/after-services')
    })
    controller.abort()
    expect(other.buffer).not.toContain('event: service')
  })

  it('removes a service: 200 with its name, then 404', async () => {
    const removed = await send('DELETE', '/v1/services/batch-a')
    expect(removed.status).toBe(200)
    expect(json(removed)).toEqual({ name: 'batch-a', removed: true })
    expect(errorCodeOf(await send('GET', '/v1/services/batch-a'))).toBe('SHOAL_SERVICE_NOT_FOUND')
  })
})
