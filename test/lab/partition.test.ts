import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NetnsLab } from '../../scripts/netns-lab.js'
import { agreedProcesses, coordinatorOf } from '../helpers/coordinator.js'
import { cleanupDaemons, type DaemonProcess, spawnDaemon } from '../helpers/processes.js'

// The lab needs root. Skipping it takes an explicit SHOAL_SKIP_NETNS=1, so it never skips by accident.
const skip = process.env.SHOAL_SKIP_NETNS === '1'

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
    const before = await agreedProcesses(procs, 'four hosts to agree on a coordinator', {
      minTerm: 1,
      timeoutMs: 60_000,
    })
    const holderIndex = procs.findIndex((proc) => proc.status.peerId === before.holder)
    const holder = procs[holderIndex]!
    const rest = procs.filter((proc) => proc !== holder)

    await lab.setLink(lab.hosts[holderIndex]!, false)
    const elected = await agreedProcesses(rest, 'the three cut-off hosts to elect', {
      minTerm: before.term + 1,
    })
    expect(elected.holder).not.toBe(before.holder)
    // The holder, alone on its side, still believes in its own term.
    const alone = await coordinatorOf(holder)
    expect(alone).toMatchObject({ holder: before.holder, term: before.term, role: 'holder' })

    await lab.setLink(lab.hosts[holderIndex]!, true)
    const healedAt = Date.now()
    const after = await agreedProcesses(procs, 'all four to agree after the link is back', {
      minTerm: elected.term,
      timeoutMs: 60_000,
    })
    console.log(`lab: single coordinator ${Date.now() - healedAt} ms after the link came back`)
    expect(after).toMatchObject({ holder: elected.holder, term: elected.term })
    expect((await coordinatorOf(holder)).role).toBe('follower')
  })
})
