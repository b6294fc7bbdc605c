// `shoal service add|list|status|start|stop|restart|scale|update|reset|vars|remove|logs`, asked of the local daemon.
import type { ServiceView, SlotVars } from '../../src/api/types.js'
import { DaemonUnreachableError, InvalidFlagError, InvalidServiceError } from '../../src/errors.js'
import type { ApiClient } from '../client.js'
import { ago, bytes, labels, table } from '../format.js'
import {
  checkFileOnly,
  parseReplicas,
  readServiceFile,
  type ServiceSpecOptions,
  serviceSpecFromFlags,
} from '../service-spec.js'

type Json = { json?: boolean }

const path = (ref: string, tail = ''): string => `/v1/services/${encodeURIComponent(ref)}${tail}`

export async function serviceAddCommand(
  client: ApiClient,
  name: string | undefined,
  command: string[],
  options: ServiceSpecOptions & Json,
): Promise<void> {
  if (options.file !== undefined) {
    checkFileOnly(name, command, options)
    const views = await add<ServiceView[]>(client, await readServiceFile(options.file))
    if (options.json === true) console.log(JSON.stringify(views, null, 2))
    else for (const view of views) console.log(`added ${summary(view)}`)
    return
  }
  if (name === undefined) throw new InvalidFlagError('name the service (service add NAME …) or give -f FILE')
  const view = await add<ServiceView>(client, serviceSpecFromFlags(name, command, options))
  console.log(options.json === true ? JSON.stringify(view, null, 2) : `added ${summary(view)}`)
}

/**
 * Posts specs; with no daemon to ask, checks them here first, so that a malformed spec says what is wrong with it
 * (the same code the daemon gives) rather than only that no daemon runs.
 */
async function add<T>(client: ApiClient, specs: unknown): Promise<T> {
  try {
    return await client.post<T>('/v1/services', specs)
  } catch (err) {
    if (!(err instanceof DaemonUnreachableError)) throw err
    const { normaliseService } = await import('../../src/services/spec.js')
    const list = Array.isArray(specs) ? specs : [specs]
    for (const [index, spec] of list.entries()) {
      normaliseService(spec, list.length === 1 ? 'service' : `services[${index}]`)
    }
    throw err
  }
}

/** The whole new spec, from the flags or a file holding that one service: a new generation, rolled out. */
export async function serviceUpdateCommand(
  client: ApiClient,
  ref: string,
  command: string[],
  options: ServiceSpecOptions & Json,
): Promise<void> {
  let spec: unknown
  if (options.file !== undefined) {
    checkFileOnly(undefined, command, options)
    const services = await readServiceFile(options.file)
    if (services.length !== 1) {
      throw new InvalidServiceError(`update takes one service; ${options.file} holds ${services.length}`)
    }
    spec = services[0]
  } else {
    // The name is the service's own, as a prefix resolves it: the spec names what it replaces.
    const { name } = await client.get<ServiceView>(path(ref))
    spec = serviceSpecFromFlags(name, command, options)
  }
  printView(await client.put<ServiceView>(path(ref), spec), 'updated', options)
}

export async function serviceListCommand(
  client: ApiClient,
  options: Json & { quiet?: boolean },
): Promise<void> {
  const services = await client.get<ServiceView[]>('/v1/services')
  if (options.json === true) {
    console.log(JSON.stringify(services, null, 2))
    return
  }
  if (options.quiet === true) {
    for (const service of services) console.log(service.name)
    return
  }
  if (services.length === 0) {
    console.log("no services yet: shoal service add web --replicas 2 --exec -- sh -c 'exec sleep infinity'")
    return
  }
  const rows = services.map((service) => [
    service.name,
    service.desired,
    `${service.ready}/${service.replicas}`,
    `${service.appliedGeneration ?? '-'}/${service.generation}`,
    service.driver,
    source(service),
  ])
  console.log(table(['NAME', 'DESIRED', 'READY', 'GENERATION', 'DRIVER', 'SOURCE'], rows))
}

/** `status --json`: the service's view with its variables per slot. */
export interface ServiceStatus extends ServiceView {
  vars: SlotVars[]
}

export async function serviceStatusCommand(client: ApiClient, ref: string, options: Json): Promise<void> {
  const view = await client.get<ServiceView>(path(ref))
  const vars = await client.get<SlotVars[]>(path(view.name, '/vars'))
  if (options.json === true) {
    const status: ServiceStatus = { ...view, vars }
    console.log(JSON.stringify(status, null, 2))
    return
  }
  const r = view.resources
  const facts: Array<[string, string]> = [
    ['name', view.name],
    ['desired', `${view.desired}, ${view.replicas} replicas`],
    ['ready', `${view.ready}/${view.replicas}`],
    [
      'generation',
      `${view.generation} desired, ${view.appliedGeneration ?? 'none'} applied${
        view.appliedGeneration !== null && view.appliedGeneration < view.generation ? ' (rolling out)' : ''
      }`,
    ],
    ['source', source(view)],
    ['runs', view.command.join(' ') || '(the image’s command)'],
    ['resources', `${r.cpu} CPU, ${bytes(r.memory)} memory, ${bytes(r.disk)} disk, ${r.gpu} GPU`],
    ['constraints', labels(view.constraints)],
    ['env', Object.keys(view.env).join(', ') || '-'],
    [
      'health',
      view.health === null
        ? 'none'
        : `${view.health.command.join(' ')} every ${view.health.intervalMs} ms, ${view.health.retries} retries`,
    ],
    ['updated', `${view.updatedAt} (${ago(view.updatedAt)})`],
  ]
  if (view.git !== null) facts.push(['commit', view.commit ?? view.commitError ?? 'not looked up yet'])
  for (const [label, value] of facts) console.log(`${label.padEnd(11)}  ${value}`)
  console.log('')
  console.log(instanceTable(view))
  console.log('')
  console.log(varsTable(vars))
}

export async function serviceActionCommand(
  client: ApiClient,
  action: 'start' | 'stop' | 'restart' | 'reset',
  ref: string,
  options: Json,
): Promise<void> {
  const done = { start: 'started', stop: 'stopped', restart: 'restarting', reset: 'variables reset' }[action]
  printView(await client.post<ServiceView>(path(ref, `/${action}`), {}), done, options)
}

export async function serviceScaleCommand(
  client: ApiClient,
  ref: string,
  replicas: string,
  options: Json,
): Promise<void> {
  const view = await client.post<ServiceView>(path(ref, '/scale'), { replicas: parseReplicas(replicas) })
  printView(view, `scaled to ${view.replicas}`, options)
}

export async function serviceVarsCommand(client: ApiClient, ref: string, options: Json): Promise<void> {
  const vars = await client.get<SlotVars[]>(path(ref, '/vars'))
  console.log(options.json === true ? JSON.stringify(vars, null, 2) : varsTable(vars))
}

export async function serviceRemoveCommand(client: ApiClient, ref: string, options: Json): Promise<void> {
  const result = await client.delete<{ name: string; removed: true }>(path(ref))
  console.log(options.json === true ? JSON.stringify(result, null, 2) : `removed ${result.name}`)
}

export async function serviceLogsCommand(
  client: ApiClient,
  ref: string,
  options: { instance?: string; follow?: boolean },
): Promise<void> {
  const query = new URLSearchParams()
  if (options.instance !== undefined) {
    if (!/^\d+$/.test(options.instance)) {
      throw new InvalidFlagError(`--instance expects a slot number from 0, got "${options.instance}"`)
    }
    query.set('slot', options.instance)
  }
  if (options.follow === true) query.set('follow', '1')
  const text = query.toString()
  await client.getBytes(path(ref, `/logs${text ? `?${text}` : ''}`), (chunk) => process.stdout.write(chunk))
}

function printView(view: ServiceView, done: string, options: Json): void {
  console.log(
    options.json === true ? JSON.stringify(view, null, 2) : `${view.name}: ${done} (${state(view)})`,
  )
}

function summary(view: ServiceView): string {
  return `${view.name} (${view.replicas} ${view.replicas === 1 ? 'replica' : 'replicas'}, ${source(view)})`
}

function state(view: ServiceView): string {
  return `${view.desired}, ${view.ready}/${view.replicas} ready, generation ${view.appliedGeneration ?? '-'}/${view.generation}`
}

function source(view: ServiceView): string {
  if (view.git !== null) {
    const git = `git ${view.git.url}${view.git.ref === null ? '' : `@${view.git.ref}`}`
    return view.image === null ? git : `${git} in ${view.image}`
  }
  return view.image ?? 'exec'
}

function instanceTable(view: ServiceView): string {
  if (view.instances.length === 0) return 'no instances (0 replicas)'
  const rows = view.instances.map((instance) => [
    String(instance.slot),
    instance.nodeName ?? instance.node ?? '-',
    instance.state,
    `${instance.generation ?? '-'}/${instance.placedGeneration}`,
    String(instance.restarts),
    instance.health,
    instance.cpu.toFixed(2),
    bytes(instance.memory),
    bytes(instance.disk),
    instance.commit?.slice(0, 12) ?? '-',
    instance.reason ?? '',
  ])
  return table(
    ['SLOT', 'NODE', 'STATE', 'GEN', 'RESTARTS', 'HEALTH', 'CPU', 'MEM', 'DISK', 'COMMIT', 'REASON'],
    rows,
  )
}

function varsTable(vars: readonly SlotVars[]): string {
  if (vars.length === 0) return 'no variables (0 replicas)'
  const rows = vars.map((slot) => [
    String(slot.slot),
    slot.replicated ? 'replicated' : 'initial',
    slot.updatedAt === null ? '-' : ago(slot.updatedAt),
    JSON.stringify(slot.values),
  ])
  return table(['SLOT', 'VALUES FROM', 'UPDATED', 'VARIABLES'], rows)
}
