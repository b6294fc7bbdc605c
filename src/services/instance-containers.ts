// Containers of service instances: their names and labels, and removal of a slot's containers of other generations.
import type { DockerEngine } from '../docker/index.js'

/** `shoal-svc-<service>-<slot>-g<generation>`: a start is idempotent, and a restarted daemon takes the container over. */
export function instanceContainerName(service: string, slot: number, generation: number): string {
  return `shoal-svc-${service}-${slot}-g${generation}`
}

export function instanceLabels(service: string, slot: number, generation: number): Record<string, string> {
  return { 'shoal.service': service, 'shoal.slot': String(slot), 'shoal.generation': String(generation) }
}

/** Removes this slot's containers other than `keep` (a generation left running while the daemon was away). */
export async function removeOtherContainers(
  engine: DockerEngine,
  service: string,
  slot: number,
  keep: string,
): Promise<void> {
  await removeContainers(
    engine,
    { 'shoal.service': service, 'shoal.slot': String(slot) },
    (name) => name !== keep,
  )
}

/** Removes service containers this node no longer runs: `wanted` names the ones to keep. */
export async function removeUnwantedContainers(
  engine: DockerEngine,
  wanted: ReadonlySet<string>,
): Promise<number> {
  return removeContainers(engine, {}, (name) => !wanted.has(name))
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
