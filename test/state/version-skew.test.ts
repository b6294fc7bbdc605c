// A peer writing records of a kind this node does not know (a newer shoal): dropped, and the log says so once.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeRecord, toWire } from '../../src/state/wire.js'
import { metricSamples } from '../helpers/metrics.js'
import { cleanupDaemons, type DaemonProcess, spawnDaemon } from '../helpers/processes.js'
import { type RoguePeer, startRoguePeer } from '../helpers/rogue-peer.js'
import { waitFor } from '../helpers/wait.js'

describe('records of a kind from a newer version', () => {
  let daemon: DaemonProcess
  let newer: RoguePeer
  beforeAll(async () => {
    daemon = await spawnDaemon({ name: 'older' })
    newer = await startRoguePeer(join(daemon.dataDir, 'swarm.key'), {
      address: daemon.status.addresses[0]!,
      peerId: daemon.status.peerId,
    })
  })
  afterAll(async () => {
    await newer?.stop()
    await cleanupDaemons()
  })

  it('are dropped as unknown-kind and named in one warning that says what to do', async () => {
    const me = newer.identity.peerId
    for (let i = 0; i < 3; i++) {
      const stamp = { wall: Date.now(), counter: i, node: me }
      const record = toWire(encodeRecord(newer.identity.signer, `widget/${me}-${i}`, { replicas: 2 }, stamp))
      await newer.publish(JSON.stringify({ v: 1, r: [record] }))
    }
    const dropped = await waitFor('three records dropped as unknown-kind', async () => {
      const [count] = await metricSamples(daemon.status.httpUrl, 'shoal_records_dropped_total', {
        reason: 'unknown-kind',
        source: 'gossip',
      })
      return (count ?? 0) >= 3 ? count : undefined
    })
    expect(dropped).toBe(3)
    const warnings = (await readFile(daemon.logFile, 'utf8'))
      .split('\n')
      .filter((line) => line.includes('writes records this node cannot read'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(`"peer":"${me}"`)
    expect(warnings[0]).toContain(`compare versions with \\"shoal node show ${me}\\"`)
  })
})
