import { Level } from 'level'
import { afterAll, describe, expect, it } from 'vitest'
import { dataDirPaths } from '../../src/daemon/data-dir.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { metric } from '../helpers/metrics.js'
import { waitFor } from '../helpers/wait.js'

describe('a restarted daemon', () => {
  const nodes: TestNode[] = []
  afterAll(async () => destroyNodes(nodes))

  it('keeps its peer id and its records, and rejoins the mesh', async () => {
    const a = await startNode({ name: 'a' })
    const b = await startNode({ name: 'b', join: a })
    nodes.push(a, b)
    await b.daemon.state.put('test/from-b', 'kept')
    await waitFor('a to hold b’s record', () => a.daemon.state.get('test/from-b'))
    const peerId = a.daemon.peerId
    await a.stop()

    const again = await startNode({ name: 'a', dataDir: a.dataDir, join: b })
    nodes.push(again)
    expect(again.daemon.peerId).toBe(peerId)
    // Loaded from LevelDB before the mesh even started.
    expect(again.daemon.state.get('test/from-b')?.value).toBe('kept')
    await waitFor('b to see a alive again', () => b.daemon.membership.livenessOf(peerId) === 'alive')
  })

  it('moves a corrupt store entry to quarantine, loads the rest, and keeps running', async () => {
    const c = await startNode({ name: 'c' })
    await c.daemon.state.write([
      { key: 'test/good-1', value: 1 },
      { key: 'test/good-2', value: 2 },
    ])
    await c.stop()
    const db = new Level<string, string>(dataDirPaths(c.dataDir).store, { valueEncoding: 'utf8' })
    const records = db.sublevel<string, string>('r', { valueEncoding: 'utf8' })
    await records.put('test/good-2', '{"b":"truncated')
    await records.put('test/wrong-key', (await records.get('test/good-1'))!)
    await db.close()

    const again = await startNode({ name: 'c', dataDir: c.dataDir })
    nodes.push(again)
    expect(again.daemon.state.get('test/good-1')?.value).toBe(1)
    expect(again.daemon.state.get('test/good-2')).toBeUndefined()
    expect(again.daemon.state.get('test/wrong-key')).toBeUndefined()
    expect(await again.daemon.store.quarantinedCount()).toBe(2)
    expect(await metric(again, 'shoal_store_quarantined_total')).toBe(2)
    await again.daemon.state.put('test/after', 'still writable')
    expect(again.daemon.state.get('test/after')?.value).toBe('still writable')
  })

  it('refuses a second daemon on a data directory in use, naming the directory', async () => {
    const d = await startNode({ name: 'd' })
    nodes.push(d)
    const second = startNode({ name: 'd2', dataDir: d.dataDir })
    await expect(second).rejects.toMatchObject({ code: 'SHOAL_DATA_DIR_IN_USE' })
    await expect(second).rejects.toThrow(d.dataDir)
    // The first daemon is untouched: its socket still answers.
    expect((await fetch(`${d.daemon.api.httpUrl}/v1/status`)).status).toBe(200)
  })
})
