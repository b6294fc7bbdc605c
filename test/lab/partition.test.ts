import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from '../../cli/client.js'
import { NetnsLab } from '../../scripts/netns-lab.js'
import type { CoordinatorView } from '../../src/api/types.js'
import { cleanupDaemons, type DaemonProcess, spawnDaemon } from '../helpers/processes.js'
import { waitFor } from '../helpers/wait.js'

// The lab needs root. Skipping it takes an explicit SHOAL_SKIP_NETNS=1, so it never skips by accident.
const skip = process.env.SHOAL_SKIP_NETNS === '1'

function coordinatorOf(proc: DaemonProcess): Promise<CoordinatorView> {
  return createClient(proc.dataDir).get<CoordinatorView>('/v1/coordinator')
}

async function agreed(procs: readonly DaemonProcess[], what: string, minTerm = 1, timeoutMs = 30_000) {
  return waitFor(
    what,
    async () => {
      const views = await Promise.all(procs.map(coordinatorOf))
      const first = views[0]!
      const same = views.every(
        (view) => view.status === 'held' && view.holder === first.holder && view.term === first.term,
      )
      return same && first.term >= minTerm ? first : undefined
    },
    { timeoutMs, intervalMs: 100 },
  )
}

describe.skipIf(skip)('a coordinator cut off by a link going down, in the namespace lab', () => {
  let lab: NetnsLab
  const procs: DaemonProcess[] = []

  beforeAll(async () => {
    lab = await NetnsLab.create(4)
    const first = await spawnDaemon({ name: 'lab0', netns: lab.hosts[0]!.ns })
    procs.push(first)
    for (const host of lab.hosts.slice(1)) {
      procs.push(
        await spawnDaemon({
          name: `lab${procs.length}`,
          netns: host.ns,
          args: ['--swarm-key', `${first.dataDir}/swarm.key`],
        }),
      )
    }
  }, 120_000)
  afterAll(async () => {
    await cleanupDaemons()
    await lab?.destroy()
  })

  it('each side coordinates while apart; after the link comes back, one holder with the highest term', async () => {
    const before = await agreed(procs, 'four hosts to agree on a coordinator', 1, 60_000)
    const holderIndex = procs.findIndex((proc) => proc.status.peerId === before.holder)
    const holder = procs[holderIndex]!
    const rest = procs.filter((proc) => proc !== holder)

    await lab.setLink(lab.hosts[holderIndex]!, false)
    const elected = await agreed(rest, 'the three cut-off hosts to elect', before.term + 1)
    expect(elected.holder).not.toBe(before.holder)
    // The holder, alone on its side, still believes in its own term.
    const alone = await coordinatorOf(holder)
    expect(alone).toMatchObject({ holder: before.holder, term: before.term, role: 'holder' })

    await lab.setLink(lab.hosts[holderIndex]!, true)
    const healedAt = Date.now()
    const after = await agreed(procs, 'all four to agree after the link is back', elected.term, 60_000)
    console.log(`lab: single coordinator ${Date.now() - healedAt} ms after the link came back`)
    expect(after).toMatchObject({ holder: elected.holder, term: elected.term })
    expect((await coordinatorOf(holder)).role).toBe('follower')
  })
})
