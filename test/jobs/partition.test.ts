// A job placed by a coordinator cut off from the majority: after the heal its assignment goes with the old term,
// and the job ends succeeded on every node under the new term's assignment: nothing lost, run at least once.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { heal, partition } from '../helpers/partition.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

describe('a job across a partition', () => {
  let nodes: TestNode[] = []
  let dir: string
  beforeAll(async () => {
    dir = await makeTempDir('shoal-jobpart-')
    const first = await startNode({ name: 'jp0', labels: { host: 'jp0' } })
    const rest = await Promise.all(
      [1, 2, 3, 4].map((i) => startNode({ name: `jp${i}`, labels: { host: `jp${i}` }, join: first })),
    )
    nodes = [first, ...rest]
  })
  afterAll(async () => {
    await destroyNodes(nodes)
    await removeDir(dir)
  })

  it('withdraws the cut-off coordinator’s assignment after the heal and ends the job succeeded everywhere', async () => {
    const before = await agreedCoordinator(nodes)
    const runner = nodes.find((node) => node !== before.node)!
    const minority = [before.node, runner]
    const majority = nodes.filter((node) => !minority.includes(node))
    await partition(minority, majority)
    const elected = await agreedCoordinator(majority, 'the cut-off side to elect its own coordinator')
    expect(elected.term).toBe(before.term + 1)

    // Submitted on the old coordinator's side, for the one node there that may run it.
    const runs = join(dir, 'runs.txt')
    const { jobs } = await runner.daemon.jobs.submit([
      {
        driver: 'exec',
        command: ['sh', '-c', `echo "$SHOAL_ATTEMPT" >> ${runs}`],
        constraints: { host: runner.name },
      },
    ])
    const id = jobs[0]!.id
    await waitFor('the job to succeed on the cut-off side', () => {
      const job = runner.daemon.jobs.view(id)
      return job.state === 'succeeded' ? job : undefined
    })
    expect(runner.daemon.jobs.book.assignmentTerm(id)).toBe(before.term)

    await heal(nodes)
    await agreedCoordinator(nodes, 'all five to agree after the heal')
    // The old term's assignment is withdrawn; the new coordinator assigns the job again, and its node, which
    // already ran that attempt to the end, reports it done: every node sees it succeeded under a new term (the
    // cut-off side's, or a later one if the heal itself ended in another election).
    await waitFor(
      'every node to see the job succeeded under a new term',
      () =>
        nodes.every(
          (node) =>
            node.daemon.jobs.view(id).state === 'succeeded' &&
            (node.daemon.jobs.book.assignmentTerm(id) ?? 0) >= elected.term,
        ),
      { timeoutMs: 60_000 },
    )
    const waited = await before.node.daemon.jobs.wait([id], 5_000)
    expect(waited.timedOut).toBe(false)
    expect(waited.jobs[0]).toMatchObject({ state: 'succeeded', node: runner.daemon.peerId })
    // At least once; here exactly once, since the node that ran it kept its report.
    expect((await readFile(runs, 'utf8')).trim().split('\n')).toEqual(['1'])
  })
})
