// GET /v1/stats: a short history of counters and cluster utilisation for the web page's charts (?since=ISO for new ones).
import type { Registry } from 'prom-client'
import { BadRequestError } from '../../errors.js'
import type { Membership } from '../../membership/index.js'
import type { ApiContext } from '../context.js'
import { sendJson } from '../http.js'
import type { Route } from '../router.js'

/**
 * Samples are taken when asked for, at most one per interval: the page asks every interval while it is open,
 * so history exists for the time some page watched, and a daemon nobody watches does no work for it.
 */
export const STATS_SAMPLE_INTERVAL_MS = 5_000
/** One hour at one sample per interval. */
export const STATS_MAX_SAMPLES = 720

/** One sample. Counters are cumulative since the daemon started; the page turns them into rates. */
export interface StatsSample {
  at: string
  gossip: { messagesIn: number; messagesOut: number; syncRecordsSent: number; syncRecordsReceived: number }
  /** Bytes of blobs this node's pulls obtained, by where they came from. */
  layerBytes: { origin: number; peer: number; local: number }
  /** CPU seconds (user + system) this daemon process has used. */
  processCpuSeconds: number
  /** Sums over the alive nodes: capacity from their records, usage as each answers when asked. */
  cluster: {
    nodes: number
    cpus: number
    /** Sum of the nodes' 1-minute load averages: cluster CPU use is load / cpus. */
    load: number
    memoryTotal: number
    memoryUsed: number
    diskTotal: number
    diskUsed: number
  }
}

/** `GET /v1/stats` */
export interface StatsView {
  intervalMs: number
  samples: StatsSample[]
}

export function statsRoutes(ctx: ApiContext): Route[] {
  const history: StatsSample[] = []
  return [
    {
      method: 'GET',
      path: '/v1/stats',
      async handle({ res, url }) {
        const since = url.searchParams.get('since')
        const sinceMs = since === null ? Number.NEGATIVE_INFINITY : Date.parse(since)
        if (Number.isNaN(sinceMs)) throw new BadRequestError('?since= must be an ISO time')
        const last = history.at(-1)
        // A little slack, so that a page asking every interval is not refused a sample by timer jitter.
        if (last === undefined || Date.now() - Date.parse(last.at) >= STATS_SAMPLE_INTERVAL_MS * 0.8) {
          history.push(await sample(ctx.metrics, ctx.membership))
          if (history.length > STATS_MAX_SAMPLES) history.splice(0, history.length - STATS_MAX_SAMPLES)
        }
        const view: StatsView = {
          intervalMs: STATS_SAMPLE_INTERVAL_MS,
          samples: history.filter((entry) => Date.parse(entry.at) > sinceMs),
        }
        sendJson(res, 200, view)
      },
    },
  ]
}

async function sample(metrics: Registry, membership: Membership): Promise<StatsSample> {
  const sum = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const metric = metrics.getSingleMetric(name)
    if (metric === undefined) return 0
    let total = 0
    for (const { value, labels: own } of (await metric.get()).values) {
      if (Object.entries(labels).every(([key, wanted]) => own[key] === wanted)) total += value
    }
    return total
  }
  const cluster = { nodes: 0, cpus: 0, load: 0, memoryTotal: 0, memoryUsed: 0, diskTotal: 0, diskUsed: 0 }
  const alive = membership.aliveNodes()
  // Load and free memory are not in the records' news: asked of each node (its record's figures if it is slow).
  const live = await membership.liveUsage(alive.map((node) => node.peerId))
  for (const node of alive) {
    const resources = { ...node.resources, ...live.get(node.peerId) }
    cluster.nodes++
    cluster.cpus += resources.cpus
    cluster.load += resources.load[0]
    cluster.memoryTotal += resources.memoryTotal
    cluster.memoryUsed += resources.memoryTotal - resources.memoryFree
    cluster.diskTotal += resources.diskTotal
    cluster.diskUsed += resources.diskTotal - resources.diskFree
  }
  return {
    at: new Date().toISOString(),
    gossip: {
      messagesIn: await sum('shoal_gossip_messages_in_total'),
      messagesOut: await sum('shoal_gossip_messages_out_total'),
      syncRecordsSent: await sum('shoal_sync_records_total', { direction: 'sent' }),
      syncRecordsReceived: await sum('shoal_sync_records_total', { direction: 'received' }),
    },
    layerBytes: {
      origin: await sum('shoal_layer_bytes_total', { source: 'origin' }),
      peer: await sum('shoal_layer_bytes_total', { source: 'peer' }),
      local: await sum('shoal_layer_bytes_total', { source: 'local' }),
    },
    // prom-client updates all three CPU counters when the user one is read, so that one goes first.
    processCpuSeconds:
      (await sum('process_cpu_user_seconds_total')) + (await sum('process_cpu_system_seconds_total')),
    cluster,
  }
}
