// SWIM probing between daemon processes: a silent node is found dead by probes alone; a slow one refutes suspicion.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NodeView } from '../../src/api/types.js'
import { metricSamples } from '../helpers/metrics.js'
import { cleanupDaemons, type DaemonProcess, joinArgs, spawnDaemon } from '../helpers/processes.js'
import { waitFor } from '../helpers/wait.js'

/** A node as `observer` sees it (over its HTTP port: polling with the CLI would load the machine it measures). */
async function nodeAs(observer: DaemonProcess, peer: string): Promise<NodeView | undefined> {
  const nodes = (await (await fetch(`${observer.status.httpUrl}/v1/nodes?all=1`)).json()) as NodeView[]
  return nodes.find((node) => node.id === peer)
}

/** Resolves once `observer` publishes a liveness record suspecting `peer` (read from its event stream). */
async function suspicionPublished(observer: DaemonProcess, peer: string, signal: AbortSignal): Promise<void> {
  const response = await fetch(`${observer.status.httpUrl}/v1/events?kinds=liveness`, { signal })
  const decoder = new TextDecoder()
  let text = ''
  for await (const chunk of response.body!) {
    text += decoder.decode(chunk as Uint8Array, { stream: true })
    for (const line of text.split('\n')) {
      if (!line.startsWith('data: ')) continue
      const event = JSON.parse(line.slice(6)) as {
        origin: string
        value: { suspects?: Record<string, unknown> } | null
      }
      if (event.origin === observer.status.peerId && event.value?.suspects?.[peer] !== undefined) return
    }
    text = text.slice(text.lastIndexOf('\n') + 1)
  }
}

const metricOf = async (proc: DaemonProcess, name: string): Promise<number> =>
  (await metricSamples(proc.status.httpUrl, name))[0] ?? 0

describe('probing between three daemon processes', () => {
  let a: DaemonProcess
  let b: DaemonProcess
  let c: DaemonProcess

  beforeAll(async () => {
    a = await spawnDaemon({ name: 'pa' })
    ;[b, c] = await Promise.all([
      spawnDaemon({ name: 'pb', args: joinArgs(a) }),
      spawnDaemon({ name: 'pc', args: joinArgs(a) }),
    ])
    await waitFor('all three alive in every view', async () => {
      for (const observer of [a, b, c])
        for (const peer of [a, b, c])
          if (peer !== observer && (await nodeAs(observer, peer.status.peerId))?.state !== 'alive')
            return false
      return true
    })
  })
  afterAll(cleanupDaemons)

  it('finds a stopped node dead by its probes alone, its connections still open, and sees it refute when it resumes', async () => {
    const victim = c.status.peerId
    process.kill(c.pid, 'SIGSTOP')
    try {
      // No connection closes (the process is stopped, not gone) and no gossip comes from it: only probes can tell.
      const suspected = await waitFor(
        'a to suspect the stopped node',
        async () => {
          const node = await nodeAs(a, victim)
          return node?.state === 'suspect' ? node : undefined
        },
        { timeoutMs: 15_000, intervalMs: 50 },
      )
      expect(suspected.connected).toBe(true)
      await waitFor(
        'both others to declare it dead',
        async () =>
          (await nodeAs(a, victim))?.state === 'dead' && (await nodeAs(b, victim))?.state === 'dead',
        { timeoutMs: 20_000, intervalMs: 100 },
      )
      expect(
        (await metricOf(a, 'shoal_nodes_declared_dead_total')) +
          (await metricOf(b, 'shoal_nodes_declared_dead_total')),
      ).toBeGreaterThan(0)
    } finally {
      process.kill(c.pid, 'SIGCONT')
    }
    // Resumed, it learns it was declared dead, raises its incarnation, and is alive again everywhere.
    await waitFor(
      'the resumed node to be alive again in both views',
      async () =>
        (await nodeAs(a, victim))?.state === 'alive' && (await nodeAs(b, victim))?.state === 'alive',
      { timeoutMs: 20_000, intervalMs: 100 },
    )
    expect(await metricOf(c, 'shoal_refutations_total')).toBeGreaterThan(0)
  })

  it('a node slow to answer is suspected but refutes before anyone declares it dead', async () => {
    const slow = b.status.peerId
    const seen: string[] = []
    // Both observers at once: a view of a stalled node waits for its usage (up to the ask timeout).
    const watch = async (): Promise<void> => {
      const states = await Promise.all([a, c].map(async (observer) => (await nodeAs(observer, slow))?.state))
      for (const state of states) if (state !== undefined && seen.at(-1) !== state) seen.push(state)
    }
    const refutationsBefore = await metricOf(b, 'shoal_refutations_total')
    const listening = new AbortController()
    const published = Promise.any([
      suspicionPublished(a, slow, listening.signal),
      suspicionPublished(c, slow, listening.signal),
    ])
    process.kill(b.pid, 'SIGSTOP')
    try {
      // Stopped until another node has told everyone it suspects it: then only the node itself can clear that.
      await published
    } finally {
      // Slow, not dead: it answers again at once, well inside the shortest suspicion timeout (looking at the
      // views first would keep it stopped up to the usage ask timeout longer, on a loaded machine too long).
      process.kill(b.pid, 'SIGCONT')
      listening.abort()
    }
    // The suspicion itself is proved above (published); from here on every state either observer shows counts.
    await waitFor(
      'the slow node to be alive again in both views',
      async () => {
        await watch()
        return (await nodeAs(a, slow))?.state === 'alive' && (await nodeAs(c, slow))?.state === 'alive'
      },
      { timeoutMs: 15_000, intervalMs: 50 },
    )
    expect(seen).not.toContain('dead')
    expect(await metricOf(b, 'shoal_refutations_total')).toBeGreaterThan(refutationsBefore)
  })
})
