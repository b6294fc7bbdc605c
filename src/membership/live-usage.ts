// Live usage (load, free memory, free disk) for the views that show it: this node's latest sample, and the others'
// asked over the usage protocol, with the figures of their records where they do not answer in time.
import type { Logger } from 'pino'
import type { Mesh } from '../mesh/index.js'
import type { NodeView } from './types.js'
import { askUsage, type Usage } from './usage-protocol.js'

export class LiveUsage {
  /** This node's latest sample: what it answers, and shows of itself. */
  private own: Usage | undefined

  constructor(
    private readonly mesh: Pick<Mesh, 'openStream'>,
    private readonly self: string,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  sampled(usage: Usage): void {
    this.own = usage
  }

  current(): Usage | undefined {
    return this.own
  }

  /** The usage of each of `peers` that answered within the timeout (this node's from its latest sample). */
  async of(peers: readonly string[]): Promise<Map<string, Usage>> {
    const answers = await Promise.all(
      peers.map(async (peer): Promise<[string, Usage | undefined]> => {
        if (peer === this.self) return [peer, this.own]
        try {
          return [peer, await askUsage(this.mesh, peer, this.timeoutMs)]
        } catch (err) {
          this.log.debug({ peer, err: (err as Error).message }, 'no live usage: showing the record’s')
          return [peer, undefined]
        }
      }),
    )
    const usage = new Map<string, Usage>()
    for (const [peer, answer] of answers) if (answer !== undefined) usage.set(peer, answer)
    return usage
  }

  /** The views with live usage where the node answered: alive nodes are asked, the others show their record's. */
  async apply(views: NodeView[]): Promise<NodeView[]> {
    const usage = await this.of(views.filter((node) => node.state === 'alive').map((node) => node.id))
    return views.map((node) => withUsage(node, usage.get(node.id)))
  }
}

function withUsage(node: NodeView, usage: Usage | undefined): NodeView {
  if (usage === undefined) return node
  const { load, memoryFree, diskFree, at } = usage
  return {
    ...node,
    resources: { ...node.resources, load, memoryFree, diskFree },
    usage: 'live',
    usageAt: new Date(at).toISOString(),
  }
}
