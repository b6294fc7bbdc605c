import { Level } from 'level'
import { afterAll, describe, expect, it } from 'vitest'
import { dataDirPaths } from '../../src/daemon/data-dir.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { waitFor } from '../helpers/wait.js'

describe('tombstones', () => {
  const nodes: TestNode[] = []
  afterAll(async () => destroyNodes(nodes))

  it('are collected from memory and the store once past their lifetime', async () => {
    const node = await startNode({
      name: 'gc',
      tuning: { state: { tombstoneTtlMs: 300, tombstoneGcIntervalMs: 100 } },
    })
    nodes.push(node)
    await node.daemon.state.put('test/kept', 1)
    await node.daemon.state.put('test/deleted', 1)
    await node.daemon.state.remove('test/deleted')
    expect(node.daemon.state.get('test/deleted')?.deleted).toBe(true)
    await waitFor('the tombstone to be collected', () => node.daemon.state.get('test/deleted') === undefined)
    expect(node.daemon.state.get('test/kept')?.value).toBe(1)

    await node.stop()
    const db = new Level<string, string>(dataDirPaths(node.dataDir).store, { valueEncoding: 'utf8' })
    const keys = await db.sublevel<string, string>('r', { valueEncoding: 'utf8' }).keys().all()
    await db.close()
    expect(keys).toContain('test/kept')
    expect(keys).not.toContain('test/deleted')
  })
})
