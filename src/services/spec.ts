// A service spec as users send it (flags, JSON or YAML turned into this) and its normalised, replicated form.
import { z } from 'zod'
import { InvalidServiceError, ShoalError } from '../errors.js'
import { NETWORK_PATTERN, workdirEscape } from '../jobs/policy.js'
import { durationInput, labelsInput, processText, resourcesInput, SpecReader } from '../jobs/spec-input.js'
import { parseReference } from '../layers/index.js'
import {
  DEFAULT_HEALTH_INTERVAL_MS,
  DEFAULT_HEALTH_RETRIES,
  DEFAULT_HEALTH_TIMEOUT_MS,
  DEFAULT_SYNC_INTERVAL_MS,
  MAX_REPLICAS,
  MAX_SERVICE_SPEC_BYTES,
  MAX_VARS_BYTES,
  MIN_SYNC_INTERVAL_MS,
} from './constants.js'

/** Service names: DNS-label-like, so they fit in container names, paths and record keys. */
export const SERVICE_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/

const commandInput = z.union([processText(64 * 1024).min(1), z.array(processText(64 * 1024)).max(4096)])
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names are [A-Za-z_][A-Za-z0-9_]*')
/** Persistent variables: a JSON object (values of any JSON type). */
export const varsSchema = z.record(z.string().min(1).max(256), z.json())
export type Vars = z.infer<typeof varsSchema>

/** What POST /v1/services takes (one of these or an array); spec files hold the same, in YAML or JSON. */
export const serviceInputSchema = z.strictObject({
  name: z
    .string()
    .regex(SERVICE_NAME_PATTERN, 'names are 1-63 of [a-z0-9-], starting with a letter or digit'),
  /** `docker` with an image; `exec` (the default) runs a process, from a git checkout when `git` is given. */
  driver: z.enum(['exec', 'docker'], { error: 'driver must be "exec" or "docker"' }).optional(),
  image: z.string().min(1).max(512).optional(),
  git: z
    .strictObject({
      url: z.string().min(1).max(2048),
      /** A branch, tag or commit. @default the remote's HEAD */
      ref: z.string().min(1).max(256).optional(),
      /** How often the ref is looked up for a new commit. @default 60s */
      syncInterval: durationInput.optional(),
    })
    .optional(),
  command: commandInput.optional(),
  env: z.record(envName, processText()).optional(),
  workdir: processText(4096).min(1).optional(),
  network: z
    .string()
    .regex(NETWORK_PATTERN, 'network is none, bridge, host, container:<name> or a network name')
    .optional(),
  resources: resourcesInput.optional(),
  constraints: labelsInput.optional(),
  replicas: z
    .number({ error: 'replicas is a whole number' })
    .int('replicas is a whole number')
    .min(0, 'replicas cannot be negative')
    .max(MAX_REPLICAS, `at most ${MAX_REPLICAS} replicas`)
    .optional(),
  /** Initial persistent variables. */
  vars: varsSchema.optional(),
  health: z
    .strictObject({
      cmd: commandInput,
      interval: durationInput.optional(),
      timeout: durationInput.optional(),
      retries: z.number().int().min(1).max(100).optional(),
    })
    .optional(),
  /** Spread instances across nodes (the default); false packs them by load alone. */
  spread: z.boolean().optional(),
})
export type ServiceInput = z.input<typeof serviceInputSchema>

const uint = z.number().int().nonnegative()

/** The spec part of a `service/<name>` record: what every instance runs (a change is a new generation). */
export const serviceSpecSchema = z.object({
  name: z.string().regex(SERVICE_NAME_PATTERN),
  driver: z.enum(['exec', 'docker']),
  image: z.string().max(512).nullable(),
  git: z
    .object({ url: z.string().max(2048), ref: z.string().max(256).nullable(), syncIntervalMs: uint })
    .nullable(),
  command: z.array(z.string()),
  env: z.record(z.string(), z.string()),
  workdir: z.string().nullable(),
  network: z.string().nullable(),
  resources: z.object({ cpuMillis: uint, memory: uint, disk: uint, gpu: uint }),
  constraints: z.record(z.string(), z.string()),
  vars: varsSchema,
  health: z
    .object({ command: z.array(z.string()).min(1), intervalMs: uint, timeoutMs: uint, retries: uint })
    .nullable(),
  spread: z.boolean(),
})
export type ServiceSpec = z.infer<typeof serviceSpecSchema>

/** Validates one input; throws InvalidServiceError naming where (`services[2]`, a file name) and what. */
export function normaliseService(raw: unknown, where: string): { spec: ServiceSpec; replicas: number } {
  const parsed = serviceInputSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const path = issue?.path.length ? ` at ${issue.path.join('.')}` : ''
    throw new InvalidServiceError(`${where}${path}: ${issue?.message ?? 'invalid service spec'}`)
  }
  const input = parsed.data
  const read = new SpecReader(where, InvalidServiceError)
  const orDefault = (value: number | string | undefined, fallback: number, field: string): number =>
    value === undefined ? fallback : read.duration(value, field)
  const invalid = (message: string): never => {
    throw new InvalidServiceError(`${where}: ${message}`)
  }
  const driver = input.driver ?? (input.image !== undefined ? 'docker' : 'exec')
  const command = typeof input.command === 'string' ? ['sh', '-c', input.command] : (input.command ?? [])
  if (driver === 'docker' && input.image === undefined) invalid('the docker driver needs an image')
  if (driver === 'exec' && input.image !== undefined) invalid('an image is only for the docker driver')
  if (driver === 'exec' && command.length === 0) invalid('an exec service needs a command')
  if (driver === 'exec' && input.network !== undefined) invalid('network is only for the docker driver')
  if (input.workdir !== undefined && driver === 'exec') {
    const escaping = workdirEscape(input.workdir)
    if (escaping !== undefined) invalid(escaping)
  }
  if (input.image !== undefined) {
    try {
      parseReference(input.image)
    } catch (err) {
      if (err instanceof ShoalError) invalid(`image: ${err.message}`)
      throw err
    }
  }
  if (input.git !== undefined) checkGitUrl(input.git.url, invalid)
  const vars = input.vars ?? {}
  const varsBytes = Buffer.byteLength(JSON.stringify(vars))
  if (varsBytes > MAX_VARS_BYTES) {
    invalid(`the initial variables are ${varsBytes} bytes, over the ${MAX_VARS_BYTES}-byte limit`)
  }
  const health = input.health
  const spec: ServiceSpec = {
    name: input.name,
    driver,
    image: input.image ?? null,
    git:
      input.git === undefined
        ? null
        : {
            url: input.git.url,
            ref: input.git.ref ?? null,
            syncIntervalMs: Math.max(
              MIN_SYNC_INTERVAL_MS,
              orDefault(input.git.syncInterval, DEFAULT_SYNC_INTERVAL_MS, 'git.syncInterval'),
            ),
          },
    command,
    env: input.env ?? {},
    workdir: input.workdir ?? null,
    network: input.network ?? null,
    resources: read.resources(input.resources),
    constraints: input.constraints ?? {},
    vars,
    health:
      health === undefined
        ? null
        : {
            command: typeof health.cmd === 'string' ? ['sh', '-c', health.cmd] : health.cmd,
            intervalMs: orDefault(health.interval, DEFAULT_HEALTH_INTERVAL_MS, 'health.interval'),
            timeoutMs: orDefault(health.timeout, DEFAULT_HEALTH_TIMEOUT_MS, 'health.timeout'),
            retries: health.retries ?? DEFAULT_HEALTH_RETRIES,
          },
    spread: input.spread ?? true,
  }
  if (spec.health !== null && spec.health.command.length === 0) invalid('health.cmd is empty')
  const bytes = Buffer.byteLength(JSON.stringify(spec))
  if (bytes > MAX_SERVICE_SPEC_BYTES) {
    invalid(`the spec is ${bytes} bytes, over the ${MAX_SERVICE_SPEC_BYTES}-byte limit`)
  }
  return { spec, replicas: input.replicas ?? 1 }
}

/**
 * Git URLs shoal hands to `git`: https, http, ssh, git, scp-like `user@host:path`, or a local path. Never one
 * that starts with `-` (an option to git) or uses `ext::` (runs a command), whatever git's own settings allow.
 */
function checkGitUrl(url: string, invalid: (message: string) => never): void {
  if (url.startsWith('-')) invalid('git.url may not start with "-"')
  if (/^[a-z][a-z0-9+.-]*::/i.test(url)) invalid('git.url may not use a git remote helper (<helper>::)')
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase()
  if (scheme !== undefined && !['https', 'http', 'ssh', 'git', 'file'].includes(scheme)) {
    invalid(`git.url scheme ${scheme} is not one of https, http, ssh, git, file`)
  }
  if (/\s/.test(url)) invalid('git.url may not contain spaces')
}
