// Membership: keeps this node's record current with heartbeats and keeps the liveness view of every other node.
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { Gauge } from 'prom-client'
import { NodeAmbiguousError, NodeNotFoundError } from '../errors.js'
import { partLogger } from '../logger.js'
import type { KindHandle, RecordChange, ReplicatedState, StateRecord } from '../state/index.js'
import {
  HEARTBEAT_INTERVAL_MS,
  LIVENESS_TICK_MS,
  MAX_HEARTBEAT_INTERVAL_MS,
  MAX_HEARTBEATS_PER_SECOND,
  PROBE_TIMEOUT_MS,
  RESOURCE_SAMPLE_INTERVAL_MS,
  SUSPECT_AFTER_MS,
} from './constants.js'
import { type Liveness, LivenessView } from './liveness.js'
import { type NodeValue, nodeKind, type Resources } from './node-record.js'
import { ProbeFailures } from './probe-failures.js'
import { sampleResources } from './resources.js'
import type {
  MembershipComponents,
  MembershipEvents,
  MembershipInit,
  MembershipMesh,
  NodeView,
} from './types.js'

const LIVENESS_STATES: readonly Liveness[] = ['alive', 'suspect', 'dead', 'left']

export class Membership extends EventEmitter<MembershipEvents> {
  private readonly state: ReplicatedState
  private readonly records: KindHandle<NodeValue>
  private readonly mesh: MembershipMesh
  private readonly docker: MembershipComponents['docker']
  private readonly log: Logger
  private readonly liveness: LivenessView
  private readonly timers: NodeJS.Timeout[] = []
  private readonly probing = new Set<string>()
  private readonly knownAddresses = new Map<string, string>()
  private readonly startedAt = Date.now()
  private readonly heartbeatIntervalMs: number
  private readonly suspectAfterMs: number
  private heartbeat = 0
  private own: NodeValue | undefined
  private coordinatorHolder: (() => string | undefined) | undefined
  private running = false
  private unwatch: (() => void) | undefined
  private readonly onDisconnect = (peer: string): void => this.probe(peer, true)
  /** Probes in a row that a suspect did not answer (cleared by an answer or a change of state). */
  private readonly failedProbes = new ProbeFailures()

  constructor(
    components: MembershipComponents,
    private readonly init: MembershipInit,
  ) {
    super()
    this.state = components.state
    this.records = components.state.kind(nodeKind)
    this.mesh = components.mesh
    this.docker = components.docker
    this.log = partLogger(components.logger, 'membership')
    this.heartbeatIntervalMs = init.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS
    this.suspectAfterMs = init.suspectAfterMs ?? SUSPECT_AFTER_MS
    this.liveness = new LivenessView({ suspectAfterMs: init.suspectAfterMs, deadAfterMs: init.deadAfterMs })
    this.liveness.on('peer:state', (peer, state, previous) => {
      if (previous !== undefined || state !== 'suspect') {
        this.log.info(
          { peer, name: this.nameOf(peer), state, previous },
          `node ${this.nameOf(peer)} is ${state}`,
        )
      }
      if (state === 'suspect') this.probe(peer, false)
      else this.failedProbes.clear(peer)
      // Declared dead with a connection still open (a pulled cable leaves TCP looking open): drop it, so that
      // the dialer redials once the peer can be reached again.
      if (state === 'dead' && this.mesh.isConnected(peer)) this.mesh.dropConnections(peer)
      this.emit('peer:state', peer, state, previous)
    })
    const liveness = this.liveness
    new Gauge({
      name: 'shoal_nodes',
      help: 'Other nodes in this node’s liveness view, by state',
      labelNames: ['state'],
      registers: [components.metrics],
      collect() {
        const counts = liveness.counts()
        for (const state of LIVENESS_STATES) this.set({ state }, counts[state])
      },
    })
  }

  async start(): Promise<void> {
    if (this.running) return
    this.running = true
    for (const record of this.records.list()) {
      const peer = this.records.idOf(record.key)
      if (peer === this.mesh.peerId || record.value === null) continue
      this.liveness.remember(peer, record.stamp.wall, record.value.state === 'left')
      this.learnAddresses(peer, record.value)
    }
    this.unwatch = this.records.watch((change) => this.observe(change))
    this.mesh.on('peer:disconnect', this.onDisconnect)
    this.own = await this.describeSelf()
    await this.beat()
    this.everyJittered(
      () => this.currentHeartbeatMs(),
      () => this.beat(),
    )
    this.every(LIVENESS_TICK_MS, () => this.liveness.tick())
    this.every(RESOURCE_SAMPLE_INTERVAL_MS, async () => {
      this.own = await this.describeSelf()
    })
  }

  /** Stops heartbeats and tells the others this node left on purpose. */
  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    for (const timer of this.timers.splice(0)) clearTimeout(timer)
    this.unwatch?.()
    this.mesh.off('peer:disconnect', this.onDisconnect)
    if (this.own !== undefined) {
      await this.records.put(this.mesh.peerId, {
        ...this.own,
        heartbeat: ++this.heartbeat,
        state: 'left',
      })
    }
  }

  private every(intervalMs: number, task: () => unknown): void {
    const timer = setInterval(() => {
      Promise.resolve(task()).catch((err: Error) =>
        this.log.error({ err: err.message }, 'membership task failed'),
      )
    }, intervalMs)
    timer.unref()
    this.timers.push(timer)
  }

  /**
   * Like every(), with each interval drawn from ±10 % of the period, so that nodes started together
   * (a rack after a power cut) do not heartbeat in lockstep and hand everyone bursts of work.
   */
  private everyJittered(periodMs: () => number, task: () => unknown): void {
    const schedule = (): void => {
      const timer = setTimeout(
        () => {
          this.timers.splice(this.timers.indexOf(timer), 1)
          if (!this.running) return
          Promise.resolve(task())
            .catch((err: Error) => this.log.error({ err: err.message }, 'membership task failed'))
            .finally(schedule)
        },
        periodMs() * (0.9 + Math.random() * 0.2),
      )
      timer.unref()
      this.timers.push(timer)
    }
    schedule()
  }

  private async describeSelf(): Promise<NodeValue> {
    const [resources, docker] = await Promise.all([
      sampleResources(this.init.dataDir),
      this.docker?.ping() ?? Promise.resolve(false),
    ])
    return {
      name: this.init.name,
      peerId: this.mesh.peerId,
      addresses: this.mesh.addresses(),
      resources,
      labels: this.init.labels,
      drivers: { docker, exec: true },
      coordinator: this.init.coordinatorEligible ?? true,
      version: this.init.version,
      startedAt: this.startedAt,
      heartbeat: this.heartbeat,
      state: 'up',
    }
  }

  /** The heartbeat interval for the cluster as this node sees it (see MAX_HEARTBEATS_PER_SECOND). */
  private currentHeartbeatMs(): number {
    const alive = 1 + this.liveness.inState('alive').length
    const stretched = (this.heartbeatIntervalMs * alive) / MAX_HEARTBEATS_PER_SECOND
    return Math.round(Math.min(Math.max(this.heartbeatIntervalMs, stretched), MAX_HEARTBEAT_INTERVAL_MS))
  }

  private async beat(): Promise<void> {
    if (!this.running || this.own === undefined) return
    this.own = {
      ...this.own,
      addresses: this.mesh.addresses(),
      heartbeat: ++this.heartbeat,
      heartbeatMs: this.currentHeartbeatMs(),
    }
    await this.records.put(this.mesh.peerId, this.own)
  }

  private observe(change: RecordChange<NodeValue>): void {
    const { record, value, id: peer } = change
    if (peer === this.mesh.peerId || record === undefined || value === undefined) return
    const left = value.state === 'left'
    // Gossip is live: its arrival is the heartbeat. A record relayed by sync may be old news about a
    // node long gone, so it only counts as a sign of life if it was written moments ago.
    const fresh = change.source === 'gossip' || Date.now() - record.stamp.wall < this.suspectAfterMs
    const scale = (value.heartbeatMs ?? this.heartbeatIntervalMs) / this.heartbeatIntervalMs
    if (fresh) this.liveness.heard(peer, left, scale)
    else this.liveness.remember(peer, record.stamp.wall, left)
    if (left) {
      this.mesh.forgetPeer(peer)
      this.knownAddresses.delete(peer)
    } else {
      this.learnAddresses(peer, value)
    }
  }

  private learnAddresses(peer: string, value: NodeValue): void {
    if (value.state === 'left') return
    const joined = value.addresses.join(' ')
    if (this.knownAddresses.get(peer) === joined) return
    this.knownAddresses.set(peer, joined)
    this.mesh.addPeerAddresses(peer, value.addresses).catch((err: Error) => {
      this.log.debug({ peer, err: err.message }, 'could not record peer addresses')
    })
  }

  /** SWIM-style direct probe. `onDisconnect`: a failed probe after a lost connection is evidence enough to suspect. */
  private probe(peer: string, onDisconnect: boolean): void {
    if (!this.running || this.probing.has(peer)) return
    const state = this.liveness.state(peer)
    if (state === 'left' || state === 'dead' || state === undefined) return
    this.probing.add(peer)
    this.mesh
      .ping(peer, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })
      .then(
        () => {
          this.failedProbes.clear(peer)
          this.liveness.probeSucceeded(peer)
        },
        () => {
          if (onDisconnect) {
            this.liveness.suspect(peer)
            return
          }
          // Silent for the suspect timeout and not answering pings: whatever connection we still have to it
          // is dead (a pulled cable leaves TCP looking open); drop it so that the dialer redials. Not on one
          // late answer from a peer that is alive again or merely stalled: on an overloaded machine every
          // dropped connection costs a handshake, a mesh rebuild and a sync round, and stalls the next peer.
          const drop = this.failedProbes.failed(peer, this.liveness.state(peer) === 'suspect')
          if (drop && this.mesh.isConnected(peer)) this.mesh.dropConnections(peer)
        },
      )
      .finally(() => {
        this.probing.delete(peer)
        // Keep probing a suspect until a heartbeat clears it or it is declared dead.
        if (this.liveness.state(peer) === 'suspect') setTimeout(() => this.probe(peer, false), 500).unref()
      })
  }

  /** A node's name from its record, or its peer id if we have none. */
  nameOf(peer: string): string {
    return this.records.value(peer)?.name ?? peer
  }

  /** What a node says of itself (its latest record), if we have it. */
  describe(peer: string): NodeValue | undefined {
    return this.records.value(peer)
  }

  /** A node's resources as it last reported them. */
  resourcesOf(peer: string): Resources | undefined {
    return this.records.value(peer)?.resources
  }

  /** The addresses a node advertises (multiaddrs). */
  addressesOf(peer: string): string[] {
    return this.records.value(peer)?.addresses ?? []
  }

  /**
   * Peers that stand for the coordinator role and are alive and up in this node's view (this node
   * included if it stands), by peer id.
   */
  coordinatorCandidates(): string[] {
    const candidates: string[] = []
    for (const [peer, node] of this.records.entries()) {
      if (node.state !== 'up' || node.coordinator === false) continue
      if (this.livenessOf(peer) === 'alive') candidates.push(peer)
    }
    return candidates.sort()
  }

  private view(record: StateRecord<NodeValue>): NodeView {
    const value = record.value!
    const peer = value.peerId
    const self = peer === this.mesh.peerId
    const state: Liveness = self ? 'alive' : (this.liveness.state(peer) ?? 'suspect')
    const lastSeen = self ? Date.now() : (this.liveness.lastSeen(peer) ?? record.stamp.wall)
    return {
      id: peer,
      name: value.name,
      state,
      self,
      connected: !self && this.mesh.isConnected(peer),
      addresses: value.addresses,
      lastSeen: new Date(lastSeen).toISOString(),
      labels: value.labels,
      resources: value.resources,
      drivers: value.drivers,
      eligible: value.coordinator ?? true,
      coordinator: this.coordinatorHolder?.() === peer,
      version: value.version,
      startedAt: new Date(value.startedAt).toISOString(),
    }
  }

  /** Nodes by name; without `all`, only alive and suspect ones. */
  nodes(options: { all?: boolean } = {}): NodeView[] {
    return this.records
      .list()
      .map((record) => this.view(record))
      .filter((node) => options.all === true || node.state === 'alive' || node.state === 'suspect')
      .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
  }

  /** The node records of the nodes alive now (this one included): cheaper than views, for the scheduler. */
  aliveNodes(): NodeValue[] {
    const alive: NodeValue[] = []
    for (const [peer, value] of this.records.entries()) {
      if (this.livenessOf(peer) === 'alive') alive.push(value)
    }
    return alive
  }

  /** One node by peer id, by name, or by a unique tail of its peer id (at least 4 characters). */
  node(ref: string): NodeView {
    const all = this.nodes({ all: true })
    const exact = all.find((node) => node.id === ref)
    if (exact !== undefined) return exact
    const byName = all.filter((node) => node.name === ref)
    const matches =
      byName.length > 0 ? byName : ref.length >= 4 ? all.filter((node) => node.id.endsWith(ref)) : []
    if (matches.length === 1) return matches[0]!
    if (matches.length === 0) throw new NodeNotFoundError(`no node has the id or name "${ref}"`)
    throw new NodeAmbiguousError(
      `"${ref}" matches ${matches.length} nodes: ${matches.map((node) => `${node.name} (${node.id})`).join(', ')}`,
    )
  }

  self(): NodeView {
    return this.node(this.mesh.peerId)
  }

  /** Tells node views who holds the coordinator role (the coordinator starts after membership). */
  showCoordinator(holder: () => string | undefined): void {
    this.coordinatorHolder = holder
  }

  livenessOf(peer: string): Liveness | undefined {
    return peer === this.mesh.peerId ? 'alive' : this.liveness.state(peer)
  }
}
