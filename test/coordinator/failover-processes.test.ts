import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CoordinatorView } from '../../src/api/types.js'
import { agreedProcesses, coordinatorOf } from '../helpers/coordinator.js'
import { metricSamples } from '../helpers/metrics.js'
import {
  cleanupDaemons,
  cliJson,
  type DaemonProcess,
  joinArgs,
  signalDaemon,
  spawnDaemon,
} from '../helpers/processes.js'
import { sleep } from '../helpers/wait.js'

/** Waits for agreement among the daemons; returns the view and the process that holds the role. */
async function agreed(procs: readonly DaemonProcess[], what: string, minTerm = 1) {
  const view = await agreedProcesses(procs, what, { minTerm })
  const holder = procs.find((proc) => proc.status.peerId === view.holder)
  if (holder === undefined) throw new Error(`the agreed holder ${view.holder} is none of these daemons`)
  return { view, holder }
}

/** A metric's value on a daemon (0 if absent); `labels` like `reason="lapsed"`. */
async function metricOf(proc: DaemonProcess, name: string, labels = ''): Promise<number> {
  const wanted = Object.fromEntries([...labels.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]))
  return (await metricSamples(proc.status.httpUrl, name, wanted))[0] ?? 0
}

describe('coordinator failover between daemon processes', () => {
  let procs: DaemonProcess[] = []

  beforeAll(async () => {
    const first = await spawnDaemon({ name: 'f0' })
    const join = joinArgs(first)
    const rest = await Promise.all([1, 2, 3, 4].map((i) => spawnDaemon({ name: `f${i}`, args: join })))
    procs = [first, ...rest]
  }, 90_000)
  afterAll(cleanupDaemons)

  it('shoal coordinator --json names the holder the others agree on', async () => {
    const { view } = await agreed(procs, 'five daemons to agree on a coordinator')
    const printed = await cliJson<CoordinatorView>(procs[2]!.dataDir, 'coordinator')
    expect(printed).toMatchObject({ holder: view.holder, holderName: view.holderName, term: view.term })
    expect(Date.parse(printed.since!)).not.toBeNaN()
    // The lease holds while its holder lives: it has no expiry to show.
    expect(printed.expiresAt).toBeNull()
    const list = await cliJson<Array<{ id: string; coordinator: boolean }>>(procs[0]!.dataDir, 'node', 'list')
    expect(list.filter((node) => node.coordinator).map((node) => node.id)).toEqual([view.holder])
  })

  it('kill -9 of the holder: the others agree on a new holder with a higher term', async () => {
    const before = await agreed(procs, 'agreement before the kill')
    const killedAt = Date.now()
    await signalDaemon(before.holder, 'SIGKILL')
    procs = procs.filter((proc) => proc !== before.holder)
    const after = await agreed(procs, 'the survivors to agree on a new coordinator', before.view.term + 1)
    expect(after.view.holder).not.toBe(before.view.holder)
    expect(after.view.term).toBeGreaterThan(before.view.term)
    console.log(`failover after kill -9: ${Date.now() - killedAt} ms`)
  })

  it('a holder paused past its lease steps down when resumed and does not disturb its successor', async () => {
    const before = await agreed(procs, 'agreement before the pause')
    const paused = before.holder
    const claimsBefore = await metricOf(paused, 'shoal_coordinator_claims_total')
    process.kill(paused.pid, 'SIGSTOP')
    let resumed = false
    try {
      const rest = procs.filter((proc) => proc !== paused)
      const successor = await agreed(rest, 'the others to elect while it is paused', before.view.term + 1)
      await sleep(3_000) // well past its lease and past the dead timeout
      process.kill(paused.pid, 'SIGCONT')
      resumed = true

      // Once resumed, it names the successor, does not act, and never claimed during or after the pause.
      const settled = await agreed(procs, 'all four, the resumed one included, to agree', successor.view.term)
      expect(settled.view).toMatchObject({ holder: successor.view.holder, term: successor.view.term })
      const pausedView = await coordinatorOf(paused)
      expect(pausedView.role).toBe('follower')
      const stepDowns =
        (await metricOf(paused, 'shoal_coordinator_step_downs_total', 'reason="lapsed"')) +
        (await metricOf(paused, 'shoal_coordinator_step_downs_total', 'reason="superseded"'))
      expect(stepDowns).toBe(1)
      expect(await metricOf(paused, 'shoal_coordinator_claims_total')).toBe(claimsBefore)
      expect(await metricOf(paused, 'shoal_coordinator_is_holder')).toBe(0)

      // Its old term is over everywhere: the successor keeps the role through several leases.
      await sleep(5_000)
      const later = await agreed(procs, 'agreement to hold', successor.view.term)
      expect(later.view).toMatchObject({ holder: successor.view.holder, term: successor.view.term })
    } finally {
      if (!resumed) process.kill(paused.pid, 'SIGCONT')
    }
  })
})
