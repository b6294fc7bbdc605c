// Containers of service instances: their names and labels, and removal of a node's containers it no longer runs.
import type { DockerEngine } from '../docker/index.js'

/**
 * `shoal-svc-<service>-<slot>-g<generation>-<node>`: a start is idempotent, and a restarted daemon takes the
 * container over. The node (the end of its peer id) keeps daemons that share an engine apart.
 */
export function instanceContainerName(
  service: string,
  slot: number,
  generation: number,
  node: string,
): string {
  return `shoal-svc-${service}-${slot}-g${generation}-${node.slice(-8)}`
}

export function instanceLabels(
  service: string,
  slot: number,
  generation: number,
  node: string,
): Record<string, string> {
  return {
    'shoal.service': service,
    'shoal.slot': String(slot),
    'shoal.generation': String(generation),
    'shoal.node': node,
  }
}

/** Removes this node's containers of the slot other than `keep` (a generation left running while it was away). */
export async function removeOtherContainers(
  engine: DockerEngine,
  node: string,
  service: string,
  slot: number,
  keep: string,
): Promise<void> {
  const labels = { 'shoal.node': node, 'shoal.service': service, 'shoal.slot': String(slot) }
  await removeContainers(engine, labels, (name) => name !== keep)
}

/** Removes this node's service containers it no longer runs: `wanted` names the ones to keep. */
export async function removeUnwantedContainers(
  engine: DockerEngine,
  node: string,
  wanted: ReadonlySet<string>,
): Promise<number> {
  return removeContainers(engine, { 'shoal.node': node }, (name) => !wanted.has(name))
}

async function removeContainers(
  engine: DockerEngine,
  labels: Record<string, string>,
  remove: (name: string) => boolean,
): Promise<number> {
  if (!(await engine.ping())) return 0
  const docker = await engine.client()
  const filters = { label: ['shoal.service', ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)] }
  const containers = await docker.listContainers({ all: true, filters: JSON.stringify(filters) })
  let removed = 0
  for (const info of containers) {
    const name = (info.Names[0] ?? '').replace(/^\//, '')
    if (!remove(name)) continue
    await docker
      .getContainer(info.Id)
      .remove({ force: true })
      .then(() => removed++)
      .catch(() => undefined)
  }
  return removed
}
