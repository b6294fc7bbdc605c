// Git-sourced services against a repository served on loopback: a push rolls every instance onto the new commit; bad sources give reasons.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceView } from '../../src/services/index.js'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { GitServer } from '../helpers/git-server.js'
import { destroyNodes, startCluster, type TestNode } from '../helpers/in-process.js'
import { waitFor } from '../helpers/wait.js'

/** Copies the checkout's version.txt to its own variables file, then waits: the running code's version shows. */
const RUN = [
  'sh',
  '-c',
  'printf "{\\"version\\": \\"%s\\"}" "$(cat version.txt)" > "$SHOAL_VARS"; exec sleep 1000',
]

describe('git-sourced services', () => {
  let nodes: TestNode[]
  let git: GitServer

  beforeAll(async () => {
    git = await GitServer.start({ name: 'app' })
    nodes = await startCluster(3, 'gs')
    await agreedCoordinator(nodes)
  }, 60_000)
  afterAll(async () => {
    await destroyNodes(nodes ?? [])
    await git?.stop()
  })

  it('rolls every instance onto a new commit pushed to the watched branch', async () => {
    const first = await git.commit({ 'version.txt': 'one' })
    const services = nodes[0]!.daemon.services
    await services.add([
      { name: 'app', git: { url: git.url, ref: 'main', syncInterval: '1s' }, command: RUN, replicas: 3 },
    ])
    const started = await waitFor(
      '3 instances on the first commit',
      () => {
        const view = nodes[1]!.daemon.services.status('app')
        return view.ready === 3 && view.instances.every((i) => i.commit === first) ? view : undefined
      },
      { timeoutMs: 30_000 },
    )
    expect(started.commit).toBe(first)
    const versions = () => nodes[2]!.daemon.services.vars('app').map((slot) => slot.values.version)
    await waitFor('each instance to report version one', () => versions().every((v) => v === 'one'))

    const second = await git.commit({ 'version.txt': 'two' })
    const rolled = await waitFor(
      'every instance on the pushed commit',
      () => {
        const view = nodes[1]!.daemon.services.status('app')
        const all = view.instances.every((i) => i.commit === second && i.state === 'running')
        return all ? view : undefined
      },
      { timeoutMs: 60_000 },
    )
    expect(rolled.commit).toBe(second)
    await waitFor('each instance to report version two', () => versions().every((v) => v === 'two'))
    // The checkout is the pushed commit's, on the node running slot 0.
    const node = nodes.find((n) => n.daemon.peerId === rolled.instances[0]!.node)!
    const file = join(node.dataDir, 'services', 'app', '0', 'checkout', 'version.txt')
    expect(await readFile(file, 'utf8')).toBe('two')
  }, 120_000)

  it('gives the instance a clear reason for a bad URL and for a missing ref, and keeps running', async () => {
    const services = nodes[0]!.daemon.services
    await services.add([
      { name: 'nowhere', git: { url: 'http://127.0.0.1:9/none.git', syncInterval: '1s' }, command: ['true'] },
      { name: 'noref', git: { url: git.url, ref: 'no-such-branch', syncInterval: '1s' }, command: ['true'] },
    ])
    const reasonOf = (name: string): ServiceView | undefined => {
      const view = nodes[2]!.daemon.services.status(name)
      return view.instances[0]?.reason?.includes('SHOAL_GIT_FAILED') ? view : undefined
    }
    const nowhere = await waitFor('a reason for the bad URL', () => reasonOf('nowhere'))
    expect(nowhere.instances[0]!.reason).toMatch(/could not connect|connect/i)
    expect(nowhere.commitError).toMatch(/connect/i)
    const noref = await waitFor('a reason for the missing ref', () => reasonOf('noref'))
    expect(noref.instances[0]!.reason).toMatch(/no-such-branch/)
    expect(noref.instances[0]!.state).toBe('backoff')
    // Every daemon is still up and answering.
    for (const node of nodes) expect(node.daemon.services.list().length).toBe(3)
  }, 60_000)
})
