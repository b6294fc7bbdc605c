// A node's own record: news at once, free-disk drift at most every max(30 s, members × 3 s), load and memory never.
import { afterEach, describe, expect, it } from 'vitest'
import { NODE_REFRESH_MS } from '../../src/membership/constants.js'
import { type NodeValue, nodeKind } from '../../src/membership/index.js'
import { OwnRecord, type SelfDescription } from '../../src/membership/own-record.js'
import { type LocalState, localState } from '../helpers/local-state.js'

const GiB = 1024 ** 3

function describeSelf(peerId: string, change: Partial<NodeValue['resources']> = {}): SelfDescription {
  return {
    name: 'n0',
    peerId,
    addresses: ['/ip4/127.0.0.1/tcp/7420'],
    resources: {
      cpus: 2,
      memoryTotal: 8 * GiB,
      memoryFree: 4 * GiB,
      diskTotal: 100 * GiB,
      diskFree: 50 * GiB,
      load: [0.5, 0.5, 0.5],
      ...change,
    },
    labels: {},
    drivers: { docker: true, exec: true },
    version: '0.1.0',
    startedAt: 1,
    state: 'up',
  }
}

describe('own node record', () => {
  let local: LocalState | undefined
  afterEach(async () => {
    await local?.close()
    local = undefined
  })

  async function ownRecord(members: number) {
    local = await localState([nodeKind])
    const records = local.state.kind(nodeKind)
    let now = 0
    let writes = 0
    const own = new OwnRecord(
      records,
      local.identity.peerId,
      () => members,
      {},
      () => now,
      () => writes++,
    )
    own.begin(undefined)
    const peerId = local.identity.peerId
    return {
      own,
      peerId,
      writes: () => writes,
      advance: (ms: number) => {
        now += ms
      },
      stored: () => records.value(peerId),
    }
  }

  it('writes capacity and label news at once, free-disk drift only after 30 s in a small mesh', async () => {
    const node = await ownRecord(3)
    await node.own.update(describeSelf(node.peerId))
    expect(node.writes()).toBe(1)

    // Free disk moved by 20 % of the total: drift, but the last write was just now.
    node.advance(10_000)
    await node.own.update(describeSelf(node.peerId, { diskFree: 30 * GiB }))
    expect(node.writes()).toBe(1)
    // Capacity is news whatever the time.
    await node.own.update(describeSelf(node.peerId, { diskFree: 30 * GiB, cpus: 4 }))
    expect(node.writes()).toBe(2)
    expect(node.stored()?.resources.cpus).toBe(4)

    node.advance(30_000)
    await node.own.update(describeSelf(node.peerId, { diskFree: 70 * GiB, cpus: 4 }))
    expect(node.writes()).toBe(3)
    expect(node.stored()?.resources.diskFree).toBe(70 * GiB)
  })

  it('spaces free-disk drift by members × 3 s in a large mesh, so the mesh’s total rate stays flat', async () => {
    const node = await ownRecord(40)
    await node.own.update(describeSelf(node.peerId))
    node.advance(60_000)
    await node.own.update(describeSelf(node.peerId, { diskFree: 20 * GiB }))
    expect(node.writes()).toBe(1)
    node.advance(60_000)
    await node.own.update(describeSelf(node.peerId, { diskFree: 20 * GiB }))
    expect(node.writes()).toBe(2)
    expect(node.stored()?.resources.diskFree).toBe(20 * GiB)
  })

  it('never writes for load or free memory, however far and long they move', async () => {
    const node = await ownRecord(3)
    await node.own.update(describeSelf(node.peerId))
    for (let i = 1; i <= 20; i++) {
      node.advance(60_000)
      await node.own.update(
        describeSelf(node.peerId, { load: [i % 2 === 0 ? 0 : 8, 4, 2], memoryFree: (i % 2) * 8 * GiB }),
      )
    }
    expect(node.writes()).toBe(1)
    // They ride along in the next write that is news (here the hourly refresh).
    node.advance(NODE_REFRESH_MS)
    await node.own.update(describeSelf(node.peerId, { load: [5, 4, 2] }))
    expect(node.writes()).toBe(2)
    expect(node.stored()?.resources.load[0]).toBe(5)
  })

  it('does not write free disk that moved less than its threshold, however long it waits', async () => {
    const node = await ownRecord(3)
    await node.own.update(describeSelf(node.peerId))
    node.advance(600_000)
    await node.own.update(describeSelf(node.peerId, { diskFree: 45 * GiB }))
    expect(node.writes()).toBe(1)
  })
})
