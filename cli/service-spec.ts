// `service add|update`: a service spec from flags, or the services of a YAML or JSON file (`-f`), checked before sending.
import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import type { ServiceInput, Vars } from '../src/api/types.js'
import { InvalidFlagError, InvalidServiceError } from '../src/errors.js'
import { parseDuration, parseLabels, parseSize } from '../src/util/parse.js'

export interface ServiceSpecOptions {
  file?: string
  image?: string
  exec?: boolean
  git?: string
  ref?: string
  syncInterval?: string
  env: string[]
  workdir?: string
  network?: string
  cpu?: string
  memory?: string
  disk?: string
  gpu?: string
  constraint: string[]
  replicas?: string
  var: string[]
  healthCmd?: string
  healthInterval?: string
  healthTimeout?: string
  healthRetries?: string
  /** False with --no-spread. */
  spread: boolean
}

const collect = (value: string, previous: string[]): string[] => [...previous, value]

/** The spec flags `service add` and `service update` share. */
export function addServiceSpecOptions(command: Command): Command {
  return command
    .option(
      '-f, --file <file>',
      'services from a YAML or JSON file: one, a list, or { services: [...] } (- for stdin)',
    )
    .option('--image <ref>', 'run the command in containers of this image')
    .option('--exec', 'run the command as a process')
    .option(
      '--git <url>',
      'run the command from a checkout of this repository (a process, or with --image a container)',
    )
    .option('--ref <ref>', 'the branch, tag or commit to check out (default: the remote HEAD)')
    .option('--sync-interval <duration>', 'how often the ref is looked up for a new commit (default: 60s)')
    .option('--env <K=V>', 'environment variable, repeatable', collect, [])
    .option('--workdir <dir>', 'working directory')
    .option('--network <mode>', 'container network (default: none)')
    .option('--cpu <n>', 'CPUs each instance needs, e.g. 0.5 (default: 0.1)')
    .option('--memory <size>', 'memory each instance needs, e.g. 512M')
    .option('--disk <size>', 'disk each instance needs, e.g. 2G')
    .option('--gpu <n>', 'GPUs each instance needs')
    .option('--constraint <k=v>', 'run only on nodes with this label, repeatable', collect, [])
    .option('--replicas <n>', 'instances to run (default: 1)')
    .option(
      '--var <K=V>',
      'initial persistent variable (V as JSON when it parses, else a string), repeatable',
      collect,
      [],
    )
    .option('--health-cmd <cmd>', 'health check run in each instance (a shell command)')
    .option('--health-interval <duration>', 'time between health checks (default: 10s)')
    .option('--health-timeout <duration>', 'a health check that takes longer failed (default: 5s)')
    .option('--health-retries <n>', 'failed checks in a row that make an instance unhealthy (default: 3)')
    .option('--no-spread', 'pack instances by load alone instead of spreading them across nodes')
}

/** Flags that describe a spec: with -f, none of them may be given. */
const SPEC_FLAGS: ReadonlyArray<[keyof ServiceSpecOptions, string]> = [
  ['image', '--image'],
  ['exec', '--exec'],
  ['git', '--git'],
  ['ref', '--ref'],
  ['syncInterval', '--sync-interval'],
  ['workdir', '--workdir'],
  ['network', '--network'],
  ['cpu', '--cpu'],
  ['memory', '--memory'],
  ['disk', '--disk'],
  ['gpu', '--gpu'],
  ['replicas', '--replicas'],
  ['healthCmd', '--health-cmd'],
  ['healthInterval', '--health-interval'],
  ['healthTimeout', '--health-timeout'],
  ['healthRetries', '--health-retries'],
]

/** With -f, a name, a command or spec flags on the command line would be silently ignored: refuse them. */
export function checkFileOnly(
  name: string | undefined,
  command: string[],
  options: ServiceSpecOptions,
): void {
  const given = SPEC_FLAGS.filter(([key]) => options[key] !== undefined).map(([, flag]) => flag)
  for (const [list, flag] of [
    [options.env, '--env'],
    [options.constraint, '--constraint'],
    [options.var, '--var'],
  ] as const) {
    if (list.length > 0) given.push(flag)
  }
  if (!options.spread) given.push('--no-spread')
  if (name !== undefined || command.length > 0) given.unshift('a name or command')
  if (given.length > 0) {
    throw new InvalidFlagError(`-f takes the whole spec from the file; drop ${given.join(', ')}`)
  }
}

/** The spec the flags describe, with every value checked here so that a typo costs no round trip. */
export function serviceSpecFromFlags(
  name: string,
  command: string[],
  options: ServiceSpecOptions,
): ServiceInput {
  if (options.image !== undefined && options.exec === true) {
    throw new InvalidFlagError('give either --image REF (docker) or --exec, not both')
  }
  if (options.image === undefined && options.exec !== true && options.git === undefined) {
    throw new InvalidFlagError(
      'say how to run it: --image REF [CMD…] (docker), --exec -- CMD… (a process) or --git URL -- CMD…',
    )
  }
  if (options.git === undefined) {
    for (const [value, flag] of [
      [options.ref, '--ref'],
      [options.syncInterval, '--sync-interval'],
    ] as const) {
      if (value !== undefined) throw new InvalidFlagError(`${flag} is for a --git source`)
    }
  }
  if (options.healthCmd === undefined) {
    for (const [value, flag] of [
      [options.healthInterval, '--health-interval'],
      [options.healthTimeout, '--health-timeout'],
      [options.healthRetries, '--health-retries'],
    ] as const) {
      if (value !== undefined) throw new InvalidFlagError(`${flag} needs --health-cmd`)
    }
  }
  const resources = {
    cpu: number(options.cpu, '--cpu', 'positive'),
    memory: checked(options.memory, (text) => parseSize(text, '--memory', InvalidServiceError)),
    disk: checked(options.disk, (text) => parseSize(text, '--disk', InvalidServiceError)),
    gpu: number(options.gpu, '--gpu', 'count'),
  }
  const spec: ServiceInput = {
    name,
    driver: options.image === undefined ? 'exec' : 'docker',
    image: options.image,
    git:
      options.git === undefined
        ? undefined
        : {
            url: options.git,
            ref: options.ref,
            syncInterval: checked(options.syncInterval, (text) => duration(text, '--sync-interval')),
          },
    command: command.length > 0 ? command : undefined,
    env: parseEnv(options.env),
    workdir: options.workdir,
    network: options.network,
    resources: Object.values(resources).some((value) => value !== undefined) ? resources : undefined,
    constraints: parseLabels(options.constraint, '--constraint', InvalidServiceError),
    replicas: options.replicas === undefined ? undefined : parseReplicas(options.replicas),
    vars: parseVars(options.var),
    health:
      options.healthCmd === undefined
        ? undefined
        : {
            cmd: options.healthCmd,
            interval: checked(options.healthInterval, (text) => duration(text, '--health-interval')),
            timeout: checked(options.healthTimeout, (text) => duration(text, '--health-timeout')),
            retries: number(options.healthRetries, '--health-retries', 'positive'),
          },
    spread: options.spread ? undefined : false,
  }
  // Undefined fields leave the daemon's defaults; empty objects say nothing either.
  return JSON.parse(JSON.stringify(spec)) as ServiceInput
}

/** `scale NAME N` and `--replicas N`: a whole number from 0. */
export function parseReplicas(text: string): number {
  const value = Number(text)
  if (text.trim() === '' || !Number.isInteger(value)) {
    throw new InvalidServiceError(`replicas is a whole number, got "${text}"`)
  }
  if (value < 0) throw new InvalidServiceError(`replicas cannot be negative, got ${value}`)
  return value
}

function number(text: string | undefined, flag: string, kind: 'positive' | 'count'): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text)
  const ok =
    text.trim() !== '' &&
    Number.isFinite(value) &&
    (kind === 'positive' ? value > 0 : Number.isInteger(value) && value >= 0)
  if (!ok) {
    throw new InvalidFlagError(
      `${flag} expects ${kind === 'positive' ? 'a number above 0' : 'a whole number'}, got "${text}"`,
    )
  }
  return value
}

/** Checks a value with `check` but sends the text as given (the daemon reads `30s` as the user wrote it). */
function checked(text: string | undefined, check: (text: string) => unknown): string | undefined {
  if (text !== undefined) check(text)
  return text
}

function duration(text: string, flag: string): void {
  if (parseDuration(text, flag, InvalidServiceError) <= 0) {
    throw new InvalidServiceError(`${flag} must be longer than 0`)
  }
}

function parseEnv(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new InvalidFlagError(`--env expects NAME=VALUE, got "${pair}"`)
    env[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return env
}

/** `--var count=0` is the number 0, `--var tags=["a"]` a list, `--var greeting=hello` the string "hello". */
export function parseVars(pairs: readonly string[]): Vars {
  const vars: Vars = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new InvalidFlagError(`--var expects NAME=VALUE, got "${pair}"`)
    const key = pair.slice(0, eq)
    if (Object.hasOwn(vars, key)) throw new InvalidFlagError(`--var "${key}" given twice`)
    const text = pair.slice(eq + 1)
    try {
      vars[key] = JSON.parse(text) as Vars[string]
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err
      vars[key] = text
    }
  }
  return vars
}

/**
 * The services of a spec file (YAML, or JSON, which YAML reads too): one service, a list of them, `{ services:
 * [...] }`, or several `---` documents of those. A file that does not parse names its line; nothing is sent.
 */
export async function readServiceFile(file: string): Promise<unknown[]> {
  const text =
    file === '-'
      ? await readStdin()
      : await readFile(file, 'utf8').catch((err: Error) => {
          throw new InvalidFlagError(`-f: cannot read ${file}: ${err.message}`, { cause: err })
        })
  const where = file === '-' ? 'stdin' : file
  const { LineCounter, parseAllDocuments } = await import('yaml')
  const lines = new LineCounter()
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true })
  const services: unknown[] = []
  for (const doc of docs) {
    const error = doc.errors[0]
    if (error !== undefined) {
      const { line, col } = error.linePos?.[0] ?? lines.linePos(error.pos[0])
      const message = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
      throw new InvalidServiceError(`${where}:${line}:${col}: not YAML or JSON: ${message}`)
    }
    const value: unknown = doc.toJS()
    if (value === null || value === undefined) continue
    if (Array.isArray(value)) services.push(...value)
    else if (typeof value === 'object' && 'services' in value) {
      const list = (value as { services: unknown }).services
      if (!Array.isArray(list) || Object.keys(value).length > 1) {
        throw new InvalidServiceError(`${where}: "services" must be the only key, holding a list of services`)
      }
      services.push(...list)
    } else services.push(value)
  }
  if (services.length === 0) throw new InvalidServiceError(`${where} holds no service`)
  return services
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
