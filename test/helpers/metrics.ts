// Reads a daemon's Prometheus metrics over its real HTTP port (or parses an answer read another way).
import type { TestNode } from './in-process.js'

/** Every sample of `name` whose labels include `labels`, from the daemon whose HTTP port is at `httpUrl`. */
export async function metricSamples(
  httpUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number[]> {
  return samplesIn(await (await fetch(`${httpUrl}/metrics`)).text(), name, labels)
}

/** Every sample of `name` whose labels include `labels`, in the text of a /metrics answer. */
export function samplesIn(text: string, name: string, labels: Record<string, string> = {}): number[] {
  const wanted = Object.entries(labels)
  const values: number[] = []
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (wanted.every(([key, value]) => line.includes(`${key}="${value}"`)))
      values.push(Number(line.split(' ').at(-1)))
  }
  return values
}

/** The value of one sample, such as `shoal_records_dropped_total{reason="writer",source="gossip"}`; 0 if absent. */
export async function metric(
  node: TestNode,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return (await metricSamples(node.daemon.api.httpUrl, name, labels))[0] ?? 0
}
