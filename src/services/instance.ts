// One instance on this node: runs it, restarts it with backoff, checks its health, replicates its variables, measures it.
import { join } from 'node:path'
import type { Logger } from 'pino'
import { asShoalError } from '../errors.js'
import type { Execution, Exit } from '../jobs/drivers/driver.js'
import { MAX_RESTART_BACKOFF_MS, RESTART_BACKOFF_MS, STABLE_RUN_MS, VARS_POLL_MS } from './constants.js'
import { checkContainer, checkProcess, type HealthResult } from './health.js'
import { instanceContainerName } from './instance-containers.js'
import { type StartDeps, startInstance } from './instance-start.js'
import type { InstanceState, InstanceStatus, ServiceValue, VarsValue } from './records.js'
import type { ServiceSpec, Vars } from './spec.js'
import { containerUsage, coresBetween, directoryBytes, type UsageSample } from './usage.js'
import { VarsFile } from './vars-file.js'

/** What the placement asks of this instance. */
export interface InstanceTarget {
  service: ServiceValue
  /** The generation and commit its slot is placed at (the rollout may not have reached it yet). */
  generation: number
  commit: string | null
}

/** A process this node started before it restarted, still running: taken over rather than started twice. */
export interface Adopted {
  execution: Execution
  generation: number
  commit: string | null
  startedAt: number | null
  restarts: number
}

export interface InstanceDeps extends StartDeps {
  slotVars(name: string, slot: number): VarsValue | undefined
  writeVars(name: string, slot: number, value: VarsValue): Promise<void>
  /** Its status changed: the node's status record is written soon. */
  changed(): void
  log: Logger
  now(): number
}

export function serviceDirOf(dataDir: string, name: string): string {
  return join(dataDir, 'services', name)
}

export function instanceDirOf(dataDir: string, name: string, slot: number): string {
  return join(serviceDirOf(dataDir, name), String(slot))
}

export function instanceLogPath(dataDir: string, name: string, slot: number): string {
  return join(instanceDirOf(dataDir, name, slot), 'instance.log')
}

export class Instance {
  readonly name: string
  readonly slot: number
  private readonly dir: string
  private readonly varsFile: VarsFile
  private target: InstanceTarget
  /** What runs now (or last ran): the spec, generation and commit it was started with. */
  private spec: ServiceSpec
  private generation: number
  private commit: string | null = null
  private varsEpoch: number
  private state: InstanceState = 'starting'
  private reason: string | null = null
  private varsProblem: string | null = null
  private health: InstanceStatus['health'] = 'none'
  private healthFailures = 0
  private restarts = 0
  private startedAt: number | null = null
  private execution: Execution | undefined
  private pid: number | null = null
  /** Set to end the current run without counting a restart (new generation, reset, stop). */
  private planned = false
  /** Aborted when it stops for good: a git fetch under way ends with it. */
  private readonly stopping = new AbortController()
  private closed = false
  private unhealthy: string | undefined
  private wake: (() => void) | undefined
  private readonly loop: Promise<void>
  private varsTimer: NodeJS.Timeout | undefined
  private healthTimer: NodeJS.Timeout | undefined
  private usage: { sample: UsageSample; at: number } | undefined
  private cpu = 0
  private memory = 0
  private disk = 0

  constructor(
    private readonly d: InstanceDeps,
    name: string,
    slot: number,
    target: InstanceTarget,
    adopted?: Adopted,
  ) {
    this.name = name
    this.slot = slot
    this.dir = instanceDirOf(d.dataDir, name, slot)
    this.varsFile = new VarsFile(join(this.dir, 'state', 'vars.json'))
    this.target = target
    this.spec = target.service.spec
    this.generation = target.service.generation
    this.varsEpoch = target.service.varsEpoch
    this.loop = this.run(adopted)
  }

  /** The placement or the service changed: a newer generation or commit, or a reset, restarts it. */
  update(target: InstanceTarget): void {
    this.target = target
    const stale =
      this.generation < target.generation ||
      (target.commit !== null && this.commit !== null && this.commit !== target.commit) ||
      this.varsEpoch < target.service.varsEpoch
    if (stale) this.restartNow()
  }

  /** Ends it for good (moved away, removed, stopped). */
  async stop(): Promise<void> {
    this.closed = true
    this.stopping.abort()
    this.restartNow()
    await this.loop
  }

  status(): InstanceStatus {
    return {
      service: this.name,
      slot: this.slot,
      generation: this.generation,
      commit: this.commit,
      state: this.state,
      restarts: this.restarts,
      health: this.health,
      reason: this.reason ?? this.varsProblem,
      startedAt: this.startedAt,
      cpu: this.cpu,
      memory: this.memory,
      disk: this.disk,
      pid: this.pid,
    }
  }

  /** Measures CPU, memory and disk (`groups`: this node's process-group usage, read once for all instances). */
  async measure(groups: ReadonlyMap<number, UsageSample>): Promise<void> {
    const now = this.d.now()
    let sample: UsageSample | undefined
    if (this.pid !== null) sample = groups.get(this.pid)
    else if (this.spec.driver === 'docker' && this.state === 'running' && this.d.docker !== undefined) {
      const docker = await this.d.docker.client()
      sample = await containerUsage(docker.getContainer(this.containerName()))
    }
    if (sample !== undefined) {
      this.cpu = coresBetween(this.usage?.sample, sample, now - (this.usage?.at ?? now))
      this.memory = sample.memory
      this.usage = { sample, at: now }
    } else {
      this.cpu = 0
      this.memory = 0
      this.usage = undefined
    }
    this.disk = await directoryBytes(this.dir)
  }

  private restartNow(): void {
    this.planned = true
    void this.execution?.stop()
    this.wake?.()
  }

  private set(state: InstanceState, reason: string | null): void {
    this.state = state
    this.reason = reason
    this.d.changed()
  }

  private async run(adopted: Adopted | undefined): Promise<void> {
    let backoff = RESTART_BACKOFF_MS
    while (!this.closed) {
      this.planned = false
      this.unhealthy = undefined
      let execution: Execution
      if (adopted !== undefined) {
        execution = adopted.execution
        Object.assign(this, {
          generation: adopted.generation,
          commit: adopted.commit,
          restarts: adopted.restarts,
          startedAt: adopted.startedAt ?? this.d.now(),
        })
        adopted = undefined
        this.d.log.info(
          { service: this.name, slot: this.slot, pid: execution.pid },
          'took over a running instance',
        )
      } else {
        try {
          execution = await this.launch()
        } catch (err) {
          this.d.gpus.release(this.gpuKey())
          const error = asShoalError(err)
          this.restarts++
          this.set('backoff', `${error.code}: ${error.message}`)
          this.d.log.warn(
            { service: this.name, slot: this.slot, err: error.message },
            'instance could not start',
          )
          await this.sleep(backoff)
          backoff = Math.min(MAX_RESTART_BACKOFF_MS, backoff * 2)
          continue
        }
      }
      this.execution = execution
      this.pid = execution.pid
      // Stopped or retargeted while it was starting: it stops at once (and starts again if only retargeted).
      if (this.planned) void execution.stop()
      this.health = this.spec.health === null ? 'none' : 'starting'
      this.healthFailures = 0
      this.set('running', null)
      this.watch()
      const exit: Exit = await execution.ended
      this.d.gpus.release(this.gpuKey())
      this.unwatch()
      this.execution = undefined
      this.pid = null
      await this.lookAtVars()
      if (this.closed) break
      if (this.planned) {
        this.set('starting', null)
        continue
      }
      const ranMs = this.d.now() - (this.startedAt ?? this.d.now())
      if (ranMs >= STABLE_RUN_MS) backoff = RESTART_BACKOFF_MS
      this.restarts++
      const why = this.unhealthy ?? exit.reason ?? 'exited with code 0'
      this.set('backoff', `${why}; restarting in ${Math.round(backoff / 100) / 10} s`)
      await this.sleep(backoff)
      backoff = Math.min(MAX_RESTART_BACKOFF_MS, backoff * 2)
    }
    this.health = 'none'
    this.set('stopped', null)
  }

  /** Waits `ms`, or less if woken (a new target, a stop). */
  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.wake = () => {
        this.wake = undefined
        done()
      }
    })
  }

  /** Its key in the node's GPU allocation (beside jobs' attempts). */
  private gpuKey(): string {
    return `service:${this.name}/${this.slot}`
  }

  private containerName(): string {
    return instanceContainerName(this.name, this.slot, this.generation, this.d.self)
  }

  /** Starts it (see instance-start.ts) with the service's current spec and generation. */
  private async launch(): Promise<Execution> {
    const { service } = this.target
    this.spec = service.spec
    this.generation = Math.max(service.generation, this.target.generation)
    this.varsEpoch = service.varsEpoch
    this.varsProblem = null
    this.set('starting', null)
    const started = await startInstance(this.d, {
      name: this.name,
      slot: this.slot,
      spec: this.spec,
      generation: this.generation,
      commit: this.target.commit,
      dir: this.dir,
      logPath: instanceLogPath(this.d.dataDir, this.name, this.slot),
      varsFile: this.varsFile,
      vars: this.startingVars(),
      gpuKey: this.gpuKey(),
      signal: this.stopping.signal,
    })
    this.commit = started.commit
    this.startedAt = this.d.now()
    return started.execution
  }

  /** The replicated values of this slot if they belong to the service's current epoch, else the initial ones. */
  private startingVars(): Vars {
    const replicated = this.d.slotVars(this.name, this.slot)
    if (replicated !== undefined && replicated.epoch === this.varsEpoch) return replicated.values
    return this.spec.vars
  }

  private watch(): void {
    this.varsTimer = setInterval(() => void this.lookAtVars(), VARS_POLL_MS)
    const health = this.spec.health
    if (health !== null) {
      let checking = false
      this.healthTimer = setInterval(() => {
        if (checking || this.execution === undefined) return
        checking = true
        void this.check(health)
          .catch((err: Error) =>
            this.d.log.debug({ service: this.name, err: err.message }, 'health check failed to run'),
          )
          .finally(() => {
            checking = false
          })
      }, health.intervalMs)
    }
  }

  private unwatch(): void {
    clearInterval(this.varsTimer)
    clearInterval(this.healthTimer)
  }

  private async check(health: NonNullable<ServiceSpec['health']>): Promise<void> {
    let result: HealthResult
    if (this.spec.driver === 'docker') {
      if (this.d.docker === undefined) return
      const docker = await this.d.docker.client()
      result = await checkContainer(
        docker.getContainer(this.containerName()),
        health.command,
        health.timeoutMs,
      )
    } else {
      result = await checkProcess(health.command, {
        cwd: this.spec.git !== null ? join(this.dir, 'checkout') : join(this.dir, 'work'),
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SHOAL_VARS: this.varsFile.path, ...this.spec.env },
        timeoutMs: health.timeoutMs,
      })
    }
    if (this.execution === undefined) return
    const before = this.health
    if (result.ok) {
      this.healthFailures = 0
      this.health = 'healthy'
      if (this.reason !== null && this.state === 'running') this.reason = null
    } else {
      this.healthFailures++
      this.reason = `health check failed: ${result.output || 'no output'}`
      if (this.healthFailures >= health.retries) {
        this.health = 'unhealthy'
        this.unhealthy = `unhealthy after ${this.healthFailures} failed checks: ${result.output || 'no output'}`
        void this.execution.stop()
      }
    }
    if (before !== this.health || !result.ok) this.d.changed()
  }

  /** Replicates the variables file if it changed (and it belongs to the service's current epoch). */
  private async lookAtVars(): Promise<void> {
    let read: Awaited<ReturnType<VarsFile['read']>>
    try {
      read = await this.varsFile.read()
    } catch (err) {
      this.d.log.debug(
        { service: this.name, slot: this.slot, err: (err as Error).message },
        'could not read variables',
      )
      return
    }
    if (read === undefined) return
    if ('problem' in read) {
      if (this.varsProblem !== read.problem) {
        this.varsProblem = read.problem
        this.d.changed()
      }
      return
    }
    if (this.varsProblem !== null) {
      this.varsProblem = null
      this.d.changed()
    }
    if (this.varsEpoch !== this.target.service.varsEpoch) return
    await this.d
      .writeVars(this.name, this.slot, {
        values: read.values,
        epoch: this.varsEpoch,
        node: this.d.self,
        at: this.d.now(),
      })
      .catch((err: Error) =>
        this.d.log.warn({ service: this.name, err: err.message }, 'could not replicate variables'),
      )
  }
}
