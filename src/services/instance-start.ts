// Starting one instance: its directory, checkout, variables file and log, then the driver with the instance's environment.
import { mkdir, rename, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { DockerEngine } from '../docker/index.js'
import { DriverUnavailableError, JobRefusedError } from '../errors.js'
import type { Execution, JobDriver } from '../jobs/drivers/driver.js'
import type { GpuAllocation } from '../jobs/gpu-allocation.js'
import type { JobPolicy } from '../jobs/index.js'
import { policyRefusal } from '../jobs/policy.js'
import type { JobSpec } from '../jobs/spec.js'
import { prepareWorkdir } from '../jobs/workdir.js'
import type { GitSource } from './git/index.js'
import { instanceContainerName, instanceLabels, removeOtherContainers } from './instance-containers.js'
import type { ServiceSpec, Vars } from './spec.js'
import type { VarsFile } from './vars-file.js'

/** What a start needs of the node. */
export interface StartDeps {
  self: string
  dataDir: string
  drivers: Partial<Record<'exec' | 'docker', JobDriver>>
  policy(): JobPolicy
  allowCheckoutMounts: boolean
  docker?: DockerEngine
  gpus: GpuAllocation
  git: GitSource
  logMaxBytes: number
}

/** One start of an instance: which one, what it runs, where. */
export interface StartRequest {
  name: string
  slot: number
  spec: ServiceSpec
  generation: number
  /** The commit the placement asks for (git sources); null: the ref's tip. */
  commit: string | null
  dir: string
  logPath: string
  varsFile: VarsFile
  vars: Vars
  /** Its key in the node's GPU allocation (the caller releases it when the run ends). */
  gpuKey: string
  /** Aborted when the instance stops for good (a git fetch under way ends with it). */
  signal: AbortSignal
}

/** The running instance and the commit it runs (null for sources other than git). */
export interface Started {
  execution: Execution
  commit: string | null
}

export async function startInstance(d: StartDeps, r: StartRequest): Promise<Started> {
  const { spec } = r
  const refusal = policyRefusal(spec, d.policy())
  if (refusal !== undefined) throw new JobRefusedError(refusal)
  const driver = d.drivers[spec.driver]
  if (driver === undefined) throw new DriverUnavailableError(`this node has no ${spec.driver} driver`)
  const docker = spec.driver === 'docker'
  await mkdir(join(r.dir, 'state'), { recursive: true })
  let cwd = await prepareWorkdir(r.dir, !docker && spec.git === null ? spec.workdir : null)
  const binds = [`${join(r.dir, 'state')}:/shoal`]
  let commit: string | null = null
  if (spec.git !== null) {
    const checkout = join(r.dir, 'checkout')
    const target = { ref: spec.git.ref, commit: r.commit }
    commit = await d.git.syncCheckout(spec.git.url, target, checkout, { signal: r.signal })
    // The workdir was checked to stay inside at submission; the command runs as the daemon's user either way.
    if (!docker) cwd = spec.workdir === null ? checkout : join(checkout, spec.workdir)
    else if (d.allowCheckoutMounts) binds.push(`${checkout}:/src:ro`)
    else {
      throw new JobRefusedError(
        'this node does not mount git checkouts into containers (start the daemon with --allow-checkout-mounts)',
      )
    }
  }
  await r.varsFile.write(r.vars)
  await rotateLog(r.logPath, d.logMaxBytes)
  const containerName = instanceContainerName(r.name, r.slot, r.generation, d.self)
  if (docker && d.docker !== undefined) {
    await removeOtherContainers(d.docker, d.self, r.name, r.slot, containerName)
  }
  const env: Record<string, string> = {
    SHOAL_SERVICE: r.name,
    SHOAL_SLOT: String(r.slot),
    SHOAL_INSTANCE: `${r.name}/${r.slot}`,
    SHOAL_GENERATION: String(r.generation),
    SHOAL_VARS: docker ? '/shoal/vars.json' : r.varsFile.path,
  }
  if (commit !== null) env.SHOAL_COMMIT = commit
  const gpus = d.gpus.take(r.gpuKey, spec.resources.gpu)
  const execution = await driver.start({
    spec: asJobSpec(spec, d.self, docker && spec.git !== null ? '/src' : null),
    attempt: r.generation,
    logPath: r.logPath,
    logMaxBytes: d.logMaxBytes,
    workdir: cwd,
    env,
    containerName,
    labels: instanceLabels(r.name, r.slot, r.generation, d.self),
    binds: docker ? binds : undefined,
    gpus: gpus.length > 0 || d.gpus.total() > 0 ? gpus : undefined,
  })
  return { execution, commit }
}

/** Keeps one older log beside the current one once it passes the cap. */
async function rotateLog(path: string, maxBytes: number): Promise<void> {
  const size = await stat(path).then(
    (info) => info.size,
    () => 0,
  )
  if (size > maxBytes) await rename(path, `${path}.1`)
}

/** The job-shaped spec the drivers take. */
function asJobSpec(spec: ServiceSpec, self: string, containerWorkdir: string | null): JobSpec {
  return {
    id: 'j0000000000000000',
    name: spec.name,
    tags: {},
    driver: spec.driver,
    image: spec.image,
    command: spec.command,
    env: spec.env,
    workdir: spec.driver === 'docker' ? (spec.workdir ?? containerWorkdir) : spec.workdir,
    network: spec.network,
    resources: spec.resources,
    constraints: spec.constraints,
    timeoutMs: null,
    retries: 0,
    backoffMs: 0,
    restart: 'never',
    after: [],
    priority: 0,
    submissionId: null,
    createdAt: 0,
    submittedBy: self,
  }
}
