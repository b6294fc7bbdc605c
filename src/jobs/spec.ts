// A job spec as users send it (sizes and durations as text or numbers) and its normalised, stored form.
import { createHash, randomBytes } from 'node:crypto'
import { z } from 'zod'
import { InvalidJobError, JobTooLargeError, ShoalError } from '../errors.js'
import { parseReference } from '../layers/index.js'
import { PEER_ID_PATTERN } from '../state/index.js'
import { DEFAULT_BACKOFF_MS, MAX_BACKOFF_MS, MAX_JOB_SPEC_BYTES, MAX_RETRIES } from './constants.js'
import { NETWORK_PATTERN, workdirEscape } from './policy.js'
import { durationInput, labelsInput, processText, resourcesInput, SpecReader } from './spec-input.js'

export const JOB_ID_PATTERN = /^j[0-9a-f]{16}$/
export const RESTART_POLICIES = ['never', 'on-failure', 'always'] as const
export type RestartPolicy = (typeof RESTART_POLICIES)[number]

/** What POST /v1/jobs takes (one of these, or an array of them). */
export const jobInputSchema = z.strictObject({
  name: z.string().min(1).max(253).optional(),
  tags: labelsInput.optional(),
  driver: z.enum(['exec', 'docker'], { error: 'driver must be "exec" or "docker"' }),
  image: z.string().min(1).max(512).optional(),
  command: z
    .array(processText(64 * 1024))
    .max(4096)
    .default([]),
  env: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names are [A-Za-z_][A-Za-z0-9_]*'),
      processText(),
    )
    .optional(),
  workdir: processText(4096).min(1).optional(),
  network: z
    .string()
    .regex(NETWORK_PATTERN, 'network is none, bridge, host, container:<name> or a network name')
    .optional(),
  resources: resourcesInput.optional(),
  constraints: labelsInput.optional(),
  timeout: durationInput.optional(),
  retries: z.number().int().nonnegative().max(MAX_RETRIES).optional(),
  backoff: durationInput.optional(),
  restart: z.enum(RESTART_POLICIES).optional(),
  after: z.array(z.string().min(1).max(200)).max(1_000).optional(),
  priority: z.number().int().min(-1000).max(1000).optional(),
  submissionId: z
    .string()
    .regex(/^[A-Za-z0-9._:@+-]{1,200}$/, 'submission ids are 1-200 of [A-Za-z0-9._:@+-]')
    .optional(),
})
export type JobInput = z.input<typeof jobInputSchema>

const uint = z.number().int().nonnegative()

/** The `job/<id>` record: written once by the node that took the submission. */
export const jobSpecSchema = z.object({
  id: z.string().regex(JOB_ID_PATTERN),
  name: z.string().min(1).max(253),
  tags: z.record(z.string(), z.string()),
  driver: z.enum(['exec', 'docker']),
  image: z.string().max(512).nullable(),
  command: z.array(z.string()),
  env: z.record(z.string(), z.string()),
  workdir: z.string().nullable(),
  network: z.string().nullable(),
  /** CPU in thousandths of a core; memory and disk in bytes. */
  resources: z.object({ cpuMillis: uint, memory: uint, disk: uint, gpu: uint }),
  constraints: z.record(z.string(), z.string()),
  timeoutMs: uint.nullable(),
  retries: uint.max(MAX_RETRIES),
  backoffMs: uint,
  restart: z.enum(RESTART_POLICIES),
  after: z.array(z.string().regex(JOB_ID_PATTERN)),
  priority: z.number().int(),
  submissionId: z.string().nullable(),
  createdAt: uint,
  submittedBy: z.string().regex(PEER_ID_PATTERN),
})
export type JobSpec = z.infer<typeof jobSpecSchema>

/** The id a submission id always maps to, so that submitting twice anywhere yields one job. */
export function jobIdFor(submissionId: string | undefined): string {
  const bytes =
    submissionId === undefined
      ? randomBytes(8)
      : createHash('sha256').update(`shoal/job/${submissionId}`).digest().subarray(0, 8)
  return `j${bytes.toString('hex')}`
}

/** Validates one input and turns it into a spec; `after` is resolved later (see submit.ts). Throws InvalidJobError. */
export function normaliseJob(
  raw: unknown,
  where: string,
  context: { now: number; submittedBy: string },
): JobSpec {
  const parsed = jobInputSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const path = issue?.path.length ? ` at ${issue.path.join('.')}` : ''
    throw new InvalidJobError(`${where}${path}: ${issue?.message ?? 'invalid job spec'}`)
  }
  const input = parsed.data
  const read = new SpecReader(where, InvalidJobError)
  const invalid = (message: string): never => {
    throw new InvalidJobError(`${where}: ${message}`)
  }
  if (input.driver === 'docker' && input.image === undefined) invalid('the docker driver needs an image')
  if (input.driver === 'exec' && input.image !== undefined) invalid('an image is only for the docker driver')
  if (input.driver === 'exec' && input.command.length === 0) invalid('the exec driver needs a command')
  if (input.driver === 'exec' && input.network !== undefined) invalid('network is only for the docker driver')
  if (input.driver === 'exec' && input.workdir !== undefined) {
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
  if (input.restart === 'never' && (input.retries ?? 0) > 0) {
    invalid('retries need restart "on-failure" (the default when retries are given) or "always"')
  }
  const id = jobIdFor(input.submissionId)
  const spec: JobSpec = {
    id,
    name: input.name ?? defaultName(input),
    tags: input.tags ?? {},
    driver: input.driver,
    image: input.image ?? null,
    command: input.command,
    env: input.env ?? {},
    workdir: input.workdir ?? null,
    network: input.network ?? null,
    resources: read.resources(input.resources),
    constraints: input.constraints ?? {},
    timeoutMs: input.timeout === undefined ? null : read.duration(input.timeout, 'timeout'),
    retries: input.retries ?? 0,
    backoffMs: Math.min(
      MAX_BACKOFF_MS,
      input.backoff === undefined ? DEFAULT_BACKOFF_MS : read.duration(input.backoff, 'backoff'),
    ),
    restart: input.restart ?? ((input.retries ?? 0) > 0 ? 'on-failure' : 'never'),
    after: input.after ?? [],
    priority: input.priority ?? 0,
    submissionId: input.submissionId ?? null,
    createdAt: context.now,
    submittedBy: context.submittedBy,
  }
  const bytes = Buffer.byteLength(JSON.stringify(spec))
  if (bytes > MAX_JOB_SPEC_BYTES) {
    throw new JobTooLargeError(
      `${where}: the spec is ${bytes} bytes, over the ${MAX_JOB_SPEC_BYTES}-byte limit (large inputs belong in files or images, not env or args)`,
    )
  }
  return spec
}

function defaultName(input: z.infer<typeof jobInputSchema>): string {
  const first = input.command[0] ?? input.image ?? 'job'
  return (first.split('/').at(-1) ?? first).slice(0, 253) || 'job'
}
