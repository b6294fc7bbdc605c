import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDockerEngine, dockerSocketPath } from '../../src/docker/index.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

/** Something that answers the engine's /_ping on a unix socket, as dockerd does. */
function fakeEngine(socketPath: string, answer: number, delayMs = 0): Promise<Server> {
  const server = createServer((req, res) => {
    setTimeout(() => {
      res.writeHead(req.url === '/_ping' ? answer : 404)
      res.end('OK')
    }, delayMs)
  })
  return new Promise((resolve) => server.listen(socketPath, () => resolve(server)))
}

describe('the Docker engine probe', () => {
  let dir: string
  const servers: Server[] = []
  const nodes: TestNode[] = []
  beforeAll(async () => {
    dir = await makeTempDir()
  })
  afterAll(async () => {
    await destroyNodes(nodes)
    for (const server of servers) server.close()
    await removeDir(dir)
  })

  it('finds the socket from the flag, then DOCKER_HOST, then the usual path', () => {
    expect(dockerSocketPath({ socketPath: '/x.sock' }, { DOCKER_HOST: 'unix:///y.sock' })).toBe('/x.sock')
    expect(dockerSocketPath({}, { DOCKER_HOST: 'unix:///y.sock' })).toBe('/y.sock')
    expect(dockerSocketPath({}, {})).toBe('/var/run/docker.sock')
  })

  it('reports an engine that answers /_ping as reachable, and anything else as not', async () => {
    const up = join(dir, 'up.sock')
    const broken = join(dir, 'broken.sock')
    const slow = join(dir, 'slow.sock')
    servers.push(await fakeEngine(up, 200), await fakeEngine(broken, 500), await fakeEngine(slow, 200, 2_000))
    expect(await createDockerEngine({ socketPath: up }).ping()).toBe(true)
    expect(await createDockerEngine({ socketPath: broken }).ping()).toBe(false)
    expect(await createDockerEngine({ socketPath: slow }).ping(200)).toBe(false)
    expect(await createDockerEngine({ socketPath: join(dir, 'missing.sock') }).ping()).toBe(false)
  })

  it('shows up as the docker driver in the node record', async () => {
    const engine = join(dir, 'engine.sock')
    servers.push(await fakeEngine(engine, 200))
    const withEngine = await startNode({ name: 'with-docker', dockerSocket: engine })
    const without = await startNode({
      name: 'without-docker',
      join: withEngine,
      dockerSocket: join(dir, 'none.sock'),
    })
    nodes.push(withEngine, without)
    await waitFor('both records everywhere', () => without.daemon.membership.nodes().length === 2)
    expect(without.daemon.membership.node('with-docker').drivers).toEqual({ docker: true, exec: true })
    expect(without.daemon.membership.node('without-docker').drivers).toEqual({ docker: false, exec: true })
  })
})
