// `shoal job submit|list|show|logs|cancel|retry|wait`: jobs run anywhere in the mesh, asked of the local daemon.
import { readFile } from 'node:fs/promises'
import { setTimeout } from 'node:timers/promises'
import type { JobInput, JobView, WaitResult } from '../../src/api/types.js'
import {
  DaemonUnreachableError,
  InvalidFlagError,
  JobsUnsuccessfulError,
  WaitTimeoutError,
} from '../../src/errors.js'
import { isFinal, isJobState, JOB_STATES } from '../../src/jobs/states.js'
import { parseDuration, parseLabels } from '../../src/util/parse.js'
import type { ApiClient } from '../client.js'
import { ago, labels, table } from '../format.js'

export interface SubmitOptions {
  file?: string
  name?: string
  tag: string[]
  cpu?: string
  mem?: string
  disk?: string
  gpu?: string
  constraint: string[]
  timeout?: string
  retries?: string
  backoff?: string
  restart?: string
  after: string[]
  env: string[]
  workdir?: string
  network?: string
  priority?: string
  submissionId?: string
  image?: string
  exec?: boolean
  wait?: boolean
  follow?: boolean
  json?: boolean
}

export async function jobSubmitCommand(
  client: ApiClient,
  command: string[],
  options: SubmitOptions,
): Promise<void> {
  if (options.file !== undefined) {
    const specs = await readSpecs(options.file)
    const result = await submit<{ jobs: JobView[]; created: number }>(client, specs)
    if (options.json === true) console.log(JSON.stringify(result.jobs, null, 2))
    else console.log(result.jobs.map((job) => job.id).join('\n'))
    if (options.follow === true || options.wait === true) {
      await jobWaitCommand(
        client,
        result.jobs.map((job) => job.id),
        { json: false },
      )
    }
    return
  }
  const job = await submit<JobView>(client, specFromFlags(command, options))
  if (options.follow === true) {
    // The output is the job's own: its id goes to stderr, its exit code becomes the CLI's.
    console.error(job.id)
    if (await started(client, job.id)) await jobLogsCommand(client, job.id, { follow: true })
    const [done] = (await client.post<WaitResult>('/v1/jobs/wait', { ids: [job.id], timeoutMs: MAX_WAIT_MS }))
      .jobs
    if (done!.state !== 'succeeded') {
      console.error(`shoal: job ${job.id} ${done!.state}${done!.reason === null ? '' : ` (${done!.reason})`}`)
      process.exitCode = done!.exitCode !== null && done!.exitCode > 0 ? done!.exitCode : 1
    }
    return
  }
  console.log(options.json === true ? JSON.stringify(job, null, 2) : job.id)
  if (options.wait === true) await jobWaitCommand(client, [job.id], { json: false })
}

/** Waits until the job has started (true) or ended without running (false): its log exists from its start. */
async function started(client: ApiClient, id: string): Promise<boolean> {
  for (;;) {
    const view = await client.get<JobView>(`/v1/jobs/${encodeURIComponent(id)}`)
    if (view.startedAt !== null) return true
    if (isFinal(view.state)) return false
    await setTimeout(START_POLL_MS)
  }
}

/**
 * Posts specs; with no daemon to ask, checks them here first, so that a malformed spec says what is wrong with it
 * (the same code the daemon gives) rather than only that no daemon runs.
 */
async function submit<T>(client: ApiClient, specs: unknown): Promise<T> {
  try {
    return await client.post<T>('/v1/jobs', specs)
  } catch (err) {
    if (!(err instanceof DaemonUnreachableError)) throw err
    const { normaliseJob } = await import('../../src/jobs/spec.js')
    const list = Array.isArray(specs) ? specs : [specs]
    for (const [index, spec] of list.entries()) {
      normaliseJob(spec, list.length === 1 ? 'job' : `job ${index}`, { now: Date.now(), submittedBy: 'cli' })
    }
    throw err
  }
}

async function readSpecs(file: string): Promise<unknown[]> {
  const text =
    file === '-'
      ? await readStdin()
      : await readFile(file, 'utf8').catch((err: Error) => {
          throw new InvalidFlagError(`-f: cannot read ${file}: ${err.message}`)
        })
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new InvalidFlagError(`-f: ${file} is not JSON: ${(err as Error).message}`)
  }
  return Array.isArray(parsed) ? parsed : [parsed]
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function specFromFlags(command: string[], options: SubmitOptions): JobInput {
  if (options.image !== undefined && options.exec === true) {
    throw new InvalidFlagError('give either --image REF (docker) or --exec, not both')
  }
  if (options.image === undefined && options.exec !== true) {
    throw new InvalidFlagError(
      'say how to run it: --image REF -- CMD… (docker) or --exec -- CMD… (a process)',
    )
  }
  const number = (text: string | undefined, flag: string, integer: boolean): number | undefined => {
    if (text === undefined) return undefined
    const value = Number(text)
    if (text.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
      throw new InvalidFlagError(`${flag} expects ${integer ? 'a whole number' : 'a number'}, got "${text}"`)
    }
    return value
  }
  const env: Record<string, string> = {}
  for (const pair of options.env) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new InvalidFlagError(`--env expects NAME=VALUE, got "${pair}"`)
    env[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  const resources = {
    cpu: number(options.cpu, '--cpu', false),
    memory: options.mem,
    disk: options.disk,
    gpu: number(options.gpu, '--gpu', true),
  }
  const spec: JobInput = {
    driver: options.image === undefined ? 'exec' : 'docker',
    command,
    name: options.name,
    image: options.image,
    tags: parseLabels(options.tag, '--tag'),
    constraints: parseLabels(options.constraint, '--constraint'),
    env,
    workdir: options.workdir,
    network: options.network,
    resources: Object.values(resources).some((value) => value !== undefined) ? resources : undefined,
    timeout: options.timeout,
    retries: number(options.retries, '--retries', true),
    backoff: options.backoff,
    restart: options.restart as JobInput['restart'],
    after: options.after.length > 0 ? options.after : undefined,
    priority: number(options.priority, '--priority', true),
    submissionId: options.submissionId,
  }
  return JSON.parse(JSON.stringify(spec)) as JobInput
}

/** A listing shows this many jobs unless asked for more (`--limit`, `--all`). */
const DEFAULT_LIST_LIMIT = 50

export async function jobListCommand(
  client: ApiClient,
  options: {
    state?: string
    name?: string
    tag: string[]
    node?: string
    limit?: string
    all?: boolean
    quiet?: boolean
    json?: boolean
  },
): Promise<void> {
  const query = new URLSearchParams()
  if (options.state !== undefined) {
    const states = options.state.split(',').filter((state) => state !== '')
    const unknown = states.find((state) => !isJobState(state))
    if (unknown !== undefined) {
      throw new InvalidFlagError(`--state must be among ${JOB_STATES.join(', ')}; got "${unknown}"`)
    }
    query.set('state', states.join(','))
  }
  if (options.name !== undefined) query.set('name', options.name)
  for (const tag of options.tag) query.append('tag', tag)
  if (options.node !== undefined) query.set('node', options.node)
  if (options.limit !== undefined && options.all === true) {
    throw new InvalidFlagError('give --limit N or --all, not both')
  }
  if (options.limit !== undefined && !/^\d+$/.test(options.limit)) {
    throw new InvalidFlagError(`--limit expects a whole number, got "${options.limit}"`)
  }
  if (options.all !== true) query.set('limit', options.limit ?? String(DEFAULT_LIST_LIMIT))
  const filtered = [...query.keys()].some((key) => key !== 'limit')
  const { jobs, total } = await client.get<{ jobs: JobView[]; total: number }>(`/v1/jobs?${query}`)
  if (options.json === true) {
    console.log(JSON.stringify(jobs, null, 2))
    return
  }
  if (options.quiet === true) {
    for (const job of jobs) console.log(job.id)
    return
  }
  if (total === 0) {
    console.log(filtered ? 'no jobs match' : 'no jobs yet: shoal job submit --exec echo hello')
    return
  }
  const rows = jobs.map((job) => [
    job.id,
    job.name,
    job.state,
    job.nodeName ?? '-',
    String(job.attempt),
    job.exitCode === null ? '-' : String(job.exitCode),
    ago(job.finishedAt ?? job.startedAt ?? job.createdAt),
    truncate(job.reason ?? '', 60),
  ])
  console.log(table(['ID', 'NAME', 'STATE', 'NODE', 'ATTEMPT', 'EXIT', 'WHEN', 'REASON'], rows))
  if (jobs.length < total) console.log(`(${jobs.length} of ${total} shown: --limit N or --all for more)`)
}

export async function jobShowCommand(
  client: ApiClient,
  ref: string,
  options: { json?: boolean },
): Promise<void> {
  const job = await client.get<JobView>(`/v1/jobs/${encodeURIComponent(ref)}`)
  if (options.json === true) {
    console.log(JSON.stringify(job, null, 2))
    return
  }
  const run = job.driver === 'docker' ? `docker ${job.image} ${job.command.join(' ')}` : job.command.join(' ')
  const rows: Array<[string, string]> = [
    ['id', job.id],
    ['name', job.name],
    ['state', job.state + (job.reason === null ? '' : ` (${job.reason})`)],
    ['node', job.nodeName === null ? '-' : `${job.nodeName} ${job.node}`],
    ['attempt', String(job.attempt)],
    ['exit code', job.exitCode === null ? '-' : String(job.exitCode)],
    ['runs', run.trim()],
    ['resources', `${job.resources.cpu} CPU, ${job.resources.memory} B memory, ${job.resources.gpu} GPU`],
    [
      'restart',
      `${job.restart}, ${job.retries} retries${job.timeoutMs === null ? '' : `, timeout ${job.timeoutMs} ms`}`,
    ],
    ['after', job.after.join(', ') || '-'],
    ['tags', labels(job.tags)],
    ['created', job.createdAt],
    ['started', job.startedAt ?? '-'],
    ['finished', job.finishedAt ?? '-'],
  ]
  for (const [label, value] of rows) console.log(`${label.padEnd(10)}  ${value}`)
}

export async function jobLogsCommand(
  client: ApiClient,
  ref: string,
  options: { follow?: boolean; attempt?: string },
): Promise<void> {
  const query = new URLSearchParams()
  if (options.follow === true) query.set('follow', '1')
  if (options.attempt !== undefined) query.set('attempt', options.attempt)
  const text = query.toString()
  await client.getBytes(`/v1/jobs/${encodeURIComponent(ref)}/logs${text ? `?${text}` : ''}`, (chunk) =>
    process.stdout.write(chunk),
  )
}

export async function jobActionCommand(
  client: ApiClient,
  action: 'cancel' | 'retry',
  refs: string[],
  options: { json?: boolean },
): Promise<void> {
  const views: JobView[] = []
  for (const ref of refs) {
    views.push(await client.post<JobView>(`/v1/jobs/${encodeURIComponent(ref)}/${action}`, {}))
  }
  if (options.json === true) console.log(JSON.stringify(views, null, 2))
  else for (const job of views) console.log(`${job.id} ${job.state}`)
}

/** How often `--follow` asks whether its job has started. */
const START_POLL_MS = 200

/** The longest `job wait` the daemon accepts (POST /v1/jobs/wait). */
const MAX_WAIT_MS = 7 * 24 * 3_600_000

/** Exit status 0 only if every job succeeded. */
export async function jobWaitCommand(
  client: ApiClient,
  refs: string[],
  options: { timeout?: string; json?: boolean },
): Promise<void> {
  const timeoutMs = options.timeout === undefined ? MAX_WAIT_MS : parseDuration(options.timeout, '--timeout')
  if (timeoutMs > MAX_WAIT_MS) {
    throw new InvalidFlagError(
      `--timeout is at most 7d (the daemon ends a wait after a week), got ${options.timeout}`,
    )
  }
  const result =
    process.stderr.isTTY && options.json !== true
      ? await waitShowingProgress(client, refs, timeoutMs)
      : await client.post<WaitResult>('/v1/jobs/wait', { ids: refs, timeoutMs })
  if (options.json === true) console.log(JSON.stringify(result.jobs, null, 2))
  else {
    for (const job of result.jobs) {
      const exit = job.exitCode === null ? '' : ` exit ${job.exitCode}`
      console.log(`${job.id} ${job.state}${exit}${job.reason === null ? '' : ` (${job.reason})`}`)
    }
  }
  if (result.timedOut) {
    const open = result.jobs.filter((job) => !isFinal(job.state))
    throw new WaitTimeoutError(
      `${open.length} job(s) still unfinished after ${options.timeout}: ${open.map((j) => j.id).join(' ')}`,
    )
  }
  const unsuccessful = result.jobs.filter((job) => job.state !== 'succeeded')
  if (unsuccessful.length > 0) {
    throw new JobsUnsuccessfulError(`${unsuccessful.length} of ${result.jobs.length} job(s) did not succeed`)
  }
}

/** How long each wait asks for before the progress bar is redrawn. */
const PROGRESS_ROUND_MS = 1_000

/** The same wait in rounds of a second, with a bar on stderr of how many have finished and how. */
async function waitShowingProgress(
  client: ApiClient,
  refs: string[],
  timeoutMs: number,
): Promise<WaitResult> {
  const { SingleBar, Presets } = await import('cli-progress')
  const bar = new SingleBar(
    { format: 'waiting [{bar}] {value}/{total} finished {outcomes}', hideCursor: true, barsize: 30 },
    Presets.shades_classic,
  )
  const deadline = Date.now() + timeoutMs
  bar.start(refs.length, 0, { outcomes: '' })
  try {
    for (;;) {
      const remaining = deadline - Date.now()
      const round = await client.post<WaitResult>('/v1/jobs/wait', {
        ids: refs,
        timeoutMs: Math.max(0, Math.min(PROGRESS_ROUND_MS, remaining)),
      })
      const finished = round.jobs.filter((job) => isFinal(job.state))
      const byState = new Map<string, number>()
      for (const job of finished) byState.set(job.state, (byState.get(job.state) ?? 0) + 1)
      const outcomes = [...byState].map(([state, count]) => `${count} ${state}`).join(', ')
      bar.update(finished.length, { outcomes: outcomes === '' ? '' : `(${outcomes})` })
      if (!round.timedOut || remaining <= PROGRESS_ROUND_MS) return round
    }
  } finally {
    bar.stop()
  }
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}
