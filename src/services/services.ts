// The services part on every node: controller actions, views and logs; composes the coordinator's placer and the node's reconciler.
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import {
  InvalidServiceError,
  LogsUnavailableError,
  ServiceExistsError,
  ServiceNotFoundError,
} from '../errors.js'
import { jobConstants } from '../jobs/index.js'
import { fetchLogs, readLog, serveLogs } from '../jobs/logs.js'
import { type Amounts, addAmounts, ZERO } from '../jobs/placement.js'
import { partLogger } from '../logger.js'
import type { LocalWrite } from '../state/index.js'
import { MAX_REPLICAS, SERVICE_LOGS_PROTOCOL } from './constants.js'
import { type GitSource, gitCredentialsFileFor, loadGitCredentials } from './git/index.js'
import { instanceLogPath } from './instance.js'
import { createServiceMetrics } from './metrics.js'
import { Placer } from './placer.js'
import { Reconciler } from './reconciler.js'
import { type ServiceValue, varsId } from './records.js'
import { ServiceBook, type ServiceChange } from './service-book.js'
import { normaliseService, SERVICE_NAME_PATTERN } from './spec.js'
import type {
  ServiceComponents,
  ServiceEvents,
  ServiceInit,
  ServicesApi,
  ServiceView,
  SlotVars,
} from './types.js'
import { serviceView, slotVars } from './views.js'

export class Services extends EventEmitter<ServiceEvents> implements ServicesApi {
  readonly book: ServiceBook
  private readonly log: Logger
  private readonly placer: Placer
  private readonly reconciler: Reconciler
  private readonly now: () => number
  private readonly dataDir: string
  private readonly git: GitSource
  private readonly gitCredentialsFile: string | undefined
  private started = false

  constructor(
    private readonly c: ServiceComponents,
    init: ServiceInit & { git: GitSource },
  ) {
    super()
    this.setMaxListeners(0)
    this.log = partLogger(c.logger, 'services')
    this.now = () => (init.clock ?? Date).now()
    this.dataDir = init.dataDir
    this.git = init.git
    this.gitCredentialsFile = init.gitCredentialsFile
    this.book = new ServiceBook(c.state)
    const metrics = createServiceMetrics(c.metrics, {
      services: () => this.book.names().length,
      running: () => this.runningHere(),
    })
    this.placer = new Placer({
      book: this.book,
      coordinator: c.coordinator,
      membership: c.membership,
      jobUsage: () => c.jobs.placedUsage(),
      imageBytesHeld: (ref) => c.layers.imageBytesHeld(ref),
      git: init.git,
      log: partLogger(c.logger, 'services:placer'),
      now: this.now,
      counted: (what, count) => metrics.changes.inc({ change: what }, count),
    })
    this.reconciler = new Reconciler({
      self: c.state.peerId,
      dataDir: init.dataDir,
      drivers: c.jobs.drivers,
      policy: () => c.jobs.currentPolicy(),
      allowCheckoutMounts: init.allowCheckoutMounts ?? false,
      docker: c.docker,
      gpus: c.jobs.gpus,
      git: init.git,
      logMaxBytes: init.logMaxBytes ?? jobConstants.DEFAULT_JOB_LOG_MAX_BYTES,
      book: this.book,
      slotVars: (name, slot) => this.book.slotVars(name, slot),
      writeVars: async (name, slot, value) => {
        await this.book.vars.put(varsId(name, slot), value)
      },
      writeStatus: async (value) => {
        await this.book.instances.put(c.state.peerId, value)
      },
      log: partLogger(c.logger, 'services:node'),
      now: this.now,
    })
  }

  /** The git credentials file is read again at the next git call (a reload). */
  reloadGitCredentials(): void {
    this.git.reloadCredentials()
  }

  /** Starts the part (the daemon's lifecycle; `start(ref)` is the controller action). */
  async open(): Promise<void> {
    if (this.started) return
    // A credentials file that cannot be used stops the start here, naming its line, not at the first clone.
    await loadGitCredentials(await gitCredentialsFileFor(this.dataDir, this.gitCredentialsFile))
    this.started = true
    await serveLogs(
      this.c.mesh,
      (request, signal) => this.localLog(request.id, request.follow, signal),
      SERVICE_LOGS_PROTOCOL,
    )
    this.book.start((change) => this.onChange(change))
    await this.reconciler.start()
    this.placer.start()
  }

  /** Stops the part: instances here stop (the coordinator places them elsewhere once this node has left). */
  async close(): Promise<void> {
    if (!this.started) return
    this.started = false
    this.placer.stop()
    await this.reconciler.stop()
    this.book.stop()
  }

  /** Instances this node runs now. */
  runningHere(): number {
    return this.reconciler.runningCount()
  }

  /** The status record of a node gone for good (the node collector deletes it). */
  removalsFor(peer: string): LocalWrite[] {
    return this.book.instances.get(peer) === undefined ? [] : [this.book.instances.removal(peer)]
  }

  /** What this node's services' instances hold on each node (placement of jobs leaves it free). */
  reserved(node: string): Amounts {
    let used = ZERO
    for (const name of this.book.names()) {
      const service = this.book.service(name)
      if (service === undefined) continue
      for (const slot of this.book.placement(name)?.slots ?? []) {
        if (slot.node === node) used = addAmounts(used, service.spec.resources)
      }
    }
    return used
  }

  private onChange(change: ServiceChange): void {
    if (change.kind === 'instances') {
      this.placer.soon()
      return
    }
    if (change.kind === 'service' || change.kind === 'placement') {
      this.reconciler.reconcile(change.name)
      this.placer.soon()
    }
    this.emit('service:changed', change.name, this.book.service(change.name) === undefined)
  }

  async add(inputs: readonly unknown[]): Promise<ServiceView[]> {
    if (inputs.length === 0) throw new InvalidServiceError('no services given')
    const now = this.now()
    const seen = new Set<string>()
    const values: ServiceValue[] = inputs.map((raw, index) => {
      const { spec, replicas } = normaliseService(raw, inputs.length === 1 ? 'service' : `services[${index}]`)
      if (seen.has(spec.name)) throw new InvalidServiceError(`service ${spec.name} is given twice`)
      seen.add(spec.name)
      if (this.book.service(spec.name) !== undefined) {
        throw new ServiceExistsError(
          `service ${spec.name} exists already (shoal service update ${spec.name}, or remove it first)`,
        )
      }
      return {
        spec,
        replicas,
        desired: 'running',
        generation: 1,
        varsEpoch: 0,
        createdAt: now,
        updatedAt: now,
      }
    })
    await this.c.state.write(values.map((value) => this.book.services.entry(value.spec.name, value)))
    this.log.info({ services: [...seen] }, 'services added')
    return values.map((value) => this.status(value.spec.name))
  }

  list(): ServiceView[] {
    return this.book.names().map((name) => this.viewOf(name, this.book.service(name)!))
  }

  status(ref: string): ServiceView {
    const name = this.resolve(ref)
    return this.viewOf(name, this.book.service(name)!)
  }

  start(ref: string): Promise<ServiceView> {
    return this.change(ref, (service) => ({ ...service, desired: 'running' }))
  }

  stop(ref: string): Promise<ServiceView> {
    return this.change(ref, (service) => ({ ...service, desired: 'stopped' }))
  }

  restart(ref: string): Promise<ServiceView> {
    return this.change(ref, (service) => ({ ...service, generation: service.generation + 1 }))
  }

  async scale(ref: string, replicas: number): Promise<ServiceView> {
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > MAX_REPLICAS) {
      throw new InvalidServiceError(
        `replicas must be a whole number from 0 to ${MAX_REPLICAS}, not ${replicas}`,
      )
    }
    return this.change(ref, (service) => ({ ...service, replicas }))
  }

  async update(ref: string, input: unknown): Promise<ServiceView> {
    const name = this.resolve(ref)
    const raw =
      typeof input === 'object' && input !== null && !Array.isArray(input) ? { name, ...input } : input
    const { spec, replicas } = normaliseService(raw, 'service')
    if (spec.name !== name) throw new InvalidServiceError(`the spec names ${spec.name}, not ${name}`)
    const given = typeof raw === 'object' && raw !== null && 'replicas' in raw
    return this.change(name, (service) => ({
      ...service,
      spec,
      replicas: given ? replicas : service.replicas,
      generation:
        JSON.stringify(spec) === JSON.stringify(service.spec) ? service.generation : service.generation + 1,
    }))
  }

  async reset(ref: string): Promise<ServiceView> {
    const name = this.resolve(ref)
    const service = this.book.service(name)!
    const next = { ...service, varsEpoch: service.varsEpoch + 1, updatedAt: this.now() }
    const writes: LocalWrite[] = [this.book.services.entry(name, next)]
    const self = this.c.state.peerId
    for (let slot = 0; slot < service.replicas; slot++) {
      const value = { values: service.spec.vars, epoch: next.varsEpoch, node: self, at: this.now() }
      writes.push(this.book.vars.entry(varsId(name, slot), value))
    }
    await this.c.state.write(writes)
    return this.status(name)
  }

  vars(ref: string): SlotVars[] {
    const name = this.resolve(ref)
    return slotVars(name, this.book.service(name)!, this.book)
  }

  async remove(ref: string): Promise<void> {
    const name = this.resolve(ref)
    const writes: LocalWrite[] = [this.book.services.removal(name)]
    for (const record of this.book.vars.list()) {
      const id = this.book.vars.idOf(record.key)
      if (id.startsWith(`${name}/`)) writes.push(this.book.vars.removal(id))
    }
    await this.c.state.write(writes)
    this.log.info({ service: name }, 'service removed')
  }

  logs(
    ref: string,
    options: { slot?: number; follow: boolean; signal: AbortSignal },
  ): AsyncGenerator<Uint8Array> {
    const name = this.resolve(ref)
    const slots = this.book.placement(name)?.slots ?? []
    const slot = options.slot ?? 0
    const node = slots[slot]?.node ?? null
    if (node === null) {
      throw new LogsUnavailableError(`instance ${slot} of ${name} is not placed on any node`)
    }
    const id = `${name}/${slot}`
    if (node === this.c.state.peerId) return this.localLog(id, options.follow, options.signal)
    return fetchLogs(
      this.c.mesh,
      node,
      { id, attempt: 1, follow: options.follow },
      options.signal,
      SERVICE_LOGS_PROTOCOL,
    )
  }

  private localLog(id: string, follow: boolean, signal: AbortSignal): AsyncGenerator<Uint8Array> {
    const [name, slotText] = id.split('/')
    const slot = Number(slotText)
    if (name === undefined || !SERVICE_NAME_PATTERN.test(name) || !Number.isInteger(slot) || slot < 0) {
      throw new ServiceNotFoundError(`no service instance ${id}`)
    }
    return readLog(instanceLogPath(this.dataDir, name, slot), {
      follow,
      running: () => this.book.placement(name)?.slots[slot]?.node === this.c.state.peerId,
      signal,
    })
  }

  private async change(ref: string, edit: (service: ServiceValue) => ServiceValue): Promise<ServiceView> {
    const name = this.resolve(ref)
    const service = this.book.service(name)!
    await this.book.services.put(name, { ...edit(service), updatedAt: this.now() })
    return this.status(name)
  }

  /** A service name from a name or a unique prefix of one. */
  private resolve(ref: string): string {
    if (this.book.service(ref) !== undefined) return ref
    const matches = this.book.names().filter((name) => name.startsWith(ref))
    if (matches.length === 1 && ref.length > 0) return matches[0]!
    if (matches.length > 1) {
      throw new ServiceNotFoundError(
        `${ref} matches ${matches.length} services (${matches.join(', ')}); give more of the name`,
      )
    }
    throw new ServiceNotFoundError(`no service ${ref}`)
  }

  private viewOf(name: string, service: ServiceValue): ServiceView {
    return serviceView(name, service, this.book, (peer) => this.c.membership.nameOf(peer))
  }
}
