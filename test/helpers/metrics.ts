// Reads a daemon's Prometheus metrics over its real HTTP port.
import type { TestNode } from './in-process.js'

/** The value of one sample, such as `shoal_records_dropped_total{reason="writer",source="gossip"}`; 0 if absent. */
export async function metric(
  node: TestNode,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${node.daemon.api.httpUrl}/metrics`)).text()
  const wanted = Object.entries(labels)
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (wanted.every(([key, value]) => line.includes(`${key}="${value}"`)))
      return Number(line.split(' ').at(-1))
  }
  return 0
}
