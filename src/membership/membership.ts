// Membership: this node's own record, SWIM probing of the others, and the liveness view the rest of the daemon asks.
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { partLogger } from '../logger.js'
import {
  type KindHandle,
  type LocalWrite,
  type RecordChange,
  type StateRecord,
  stateConstants,
  systemClock,
} from '../state/index.js'
import { ClockCheck } from './clock-check.js'
import { LIVENESS_TICK_MS, RESOURCE_SAMPLE_INTERVAL_MS, USAGE_ASK_TIMEOUT_MS } from './constants.js'
import { LiveUsage } from './live-usage.js'
import { type LivenessValue, livenessKind } from './liveness-record.js'
import { createMembershipMetrics, type MembershipMetrics } from './metrics.js'
import { type NodeValue, nodeKind, type Resources } from './node-record.js'
import {
  changedSettings,
  effectiveLabels,
  NO_SETTINGS,
  type NodeSettingsChange,
  type NodeSettingsValue,
  nodeSettingsKind,
} from './node-settings.js'
import { findNode, toNodeView, type ViewContext } from './node-views.js'
import { OwnRecord, type SelfDescription } from './own-record.js'
import { ProbeChannels, serveProbes } from './probe-protocol.js'
import { Prober } from './prober.js'
import { sampleResources } from './resources.js'
import { type Liveness, SwimView } from './swim-view.js'
import type {
  MembershipComponents,
  MembershipEvents,
  MembershipInit,
  MembershipMesh,
  NodeView,
  OwnSettings,
} from './types.js'
import { serveUsage, type Usage } from './usage-protocol.js'

export class Membership extends EventEmitter<MembershipEvents> {
  private readonly records: KindHandle<NodeValue>
  private readonly opinions: KindHandle<LivenessValue>
  private readonly settings: KindHandle<NodeSettingsValue>
  /** This node's labels (`--label`) and policy as configured (a reload replaces them); runtime settings go over. */
  private configured: OwnSettings
  /** Peers whose record says drained, to announce changes. */
  private readonly drainedPeers = new Set<string>()
  private readonly mesh: MembershipMesh
  private readonly docker: MembershipComponents['docker']
  private readonly log: Logger
  private readonly view: SwimView
  private readonly prober: Prober
  private readonly own: OwnRecord
  private readonly clock: ClockCheck
  private readonly usage: LiveUsage
  private readonly metrics: MembershipMetrics
  private readonly selfId: string
  private readonly startedAt: number
  private readonly wallNow: () => number
  private readonly knownAddresses = new Map<string, string>()
  private readonly timers: NodeJS.Timeout[] = []
  private readonly unwatch: Array<() => void> = []
  private description: SelfDescription | undefined
  private writtenOpinion = '{"suspects":{},"dead":{}}'
  private coordinatorHolder: (() => string | undefined) | undefined
  private running = false
  private readonly onDisconnect = (peer: string): void => this.prober.probeSoon(peer)
  private readonly viewContext: ViewContext = {
    self: '',
    liveness: (peer) => this.view.state(peer),
    lastSeen: (peer) => this.view.lastSeen(peer),
    isConnected: (peer) => this.mesh.isConnected(peer),
    coordinator: () => this.coordinatorHolder?.(),
    settings: (peer) => this.settings.value(peer),
  }

  constructor(
    components: MembershipComponents,
    private readonly init: MembershipInit,
  ) {
    super()
    this.setMaxListeners(0)
    const { state } = components
    this.records = state.kind(nodeKind)
    this.opinions = state.kind(livenessKind)
    this.settings = state.kind(nodeSettingsKind)
    this.configured = { labels: init.labels, drivers: init.drivers, hostNetwork: init.hostNetwork }
    this.mesh = components.mesh
    this.docker = components.docker
    this.selfId = components.mesh.peerId
    this.viewContext.self = this.selfId
    this.log = partLogger(components.logger, 'membership')
    const clock = init.clock ?? systemClock
    this.wallNow = () => clock.now()
    this.startedAt = this.wallNow()
    this.clock = new ClockCheck(init.maxClockSkewMs ?? stateConstants.MAX_CLOCK_SKEW_MS)
    this.metrics = createMembershipMetrics(components.metrics, () => this.view.counts())
    this.own = new OwnRecord(
      this.records,
      this.selfId,
      () => this.records.list().length,
      {
        resourceWriteMinMs: init.resourceWriteMinMs,
        refreshMs: init.refreshMs,
        usageSpacingMs: init.usageSpacingMs,
      },
      undefined,
      () => this.metrics.nodeRecordWrites.inc(),
    )
    this.usage = new LiveUsage(
      components.mesh,
      this.selfId,
      init.usageAskTimeoutMs ?? USAGE_ASK_TIMEOUT_MS,
      this.log,
    )
    this.view = new SwimView(this.selfId, {
      suspicionMinMs: init.suspicionMinMs,
      suspicionMaxMs: init.suspicionMaxMs,
    })
    this.prober = new Prober(
      {
        channels: new ProbeChannels(components.mesh, this.log),
        wallNow: this.wallNow,
        view: this.view,
        log: this.log,
        probed: (result) => this.metrics.probes.inc({ result }),
        answered: (peer, ack) => {
          this.clock.observe(peer, ack.sentAt, ack.rttMs, ack.wall)
          this.view.probeSucceeded(peer, ack.incarnation)
        },
      },
      { intervalMs: init.probeIntervalMs, timeoutMs: init.probeTimeoutMs },
    )
    this.view.on('peer:state', (peer, state, previous) => this.onPeerState(peer, state, previous))
  }

  async start(): Promise<void> {
    if (this.running) return
    this.running = true
    for (const record of this.opinions.list())
      this.view.observe(this.opinions.idOf(record.key), record.value!)
    for (const record of this.records.list()) this.learn(record, false)
    this.unwatch.push(
      this.records.watch((change) => this.onNodeRecord(change)),
      this.opinions.watch(({ id, value }) => this.onOpinion(id, value)),
      this.settings.watch(({ id }) => {
        if (id === this.selfId) void this.describeAgain()
      }),
    )
    this.mesh.on('peer:disconnect', this.onDisconnect)
    await serveProbes(this.mesh, {
      wallNow: this.wallNow,
      incarnation: () => this.own.currentIncarnation(),
      probeFor: (target, timeoutMs) => this.prober.probeFor(target, timeoutMs),
    })
    await serveUsage(this.mesh, () => this.usage.current())
    this.own.begin(this.view.doubtAboutSelf())
    this.description = await this.describeSelf()
    await this.own.update(this.description)
    this.prober.start()
    this.every(LIVENESS_TICK_MS, () => this.tick())
    this.every(this.init.resourceSampleIntervalMs ?? RESOURCE_SAMPLE_INTERVAL_MS, () => this.describeAgain())
  }

  /** Samples this node again and writes its record if that is news (settings or labels changed, resources moved). */
  private async describeAgain(): Promise<void> {
    if (!this.running) return
    this.description = await this.describeSelf()
    await this.own.update(this.description)
  }

  /** New labels and policy (a reload): written at once if they change the record. */
  async reconfigure(settings: OwnSettings): Promise<void> {
    this.configured = settings
    await this.describeAgain()
  }

  /**
   * Writes an operator's change to a node's settings (any node, by id, name or id tail); the node applies it to
   * its own record when it sees it. Returns the node as this node sees it now.
   */
  async changeSettings(ref: string, change: NodeSettingsChange): Promise<NodeView> {
    const peer = this.node(ref).id
    const current = this.settings.value(peer) ?? NO_SETTINGS
    await this.settings.put(peer, changedSettings(current, change))
    return this.node(peer)
  }

  /** Stops probing and tells the others this node left on purpose. */
  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    this.prober.stop()
    for (const timer of this.timers.splice(0)) clearInterval(timer)
    for (const unwatch of this.unwatch.splice(0)) unwatch()
    this.mesh.off('peer:disconnect', this.onDisconnect)
    if (this.description !== undefined) await this.own.update({ ...this.description, state: 'left' })
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

  private async describeSelf(): Promise<SelfDescription> {
    const settings = this.settings.value(this.selfId) ?? NO_SETTINGS
    const [resources, docker] = await Promise.all([
      this.init.sampleResources?.() ?? sampleResources(this.init.dataDir, this.init.gpus),
      this.docker?.ping() ?? Promise.resolve(false),
    ])
    const { load, memoryFree, diskFree } = resources
    this.usage.sampled({ load, memoryFree, diskFree, at: Math.round(this.wallNow()) })
    return {
      name: this.init.name,
      peerId: this.selfId,
      addresses: this.mesh.addresses(),
      resources,
      labels: effectiveLabels(this.configured.labels, settings.labels),
      drivers: {
        docker: docker && (this.configured.drivers?.docker ?? true),
        exec: this.configured.drivers?.exec ?? false,
      },
      hostNetwork: this.configured.hostNetwork ?? false,
      coordinator: this.init.coordinatorEligible ?? true,
      version: this.init.version,
      startedAt: this.startedAt,
      drained: settings.drained,
      state: 'up',
    }
  }

  /** Runs suspicion timers, and writes this node's opinions when they changed. */
  private async tick(): Promise<void> {
    const declared = this.view.tick()
    this.metrics.declaredDead.inc(declared.length)
    for (const peer of declared) {
      this.log.warn(
        { peer, name: this.nameOf(peer) },
        `declared node ${this.nameOf(peer)} dead: its suspicion ran out unrefuted`,
      )
    }
    // Cheap to compare every tick: a second failed probe changes this node's opinion without changing any state.
    await this.writeOpinion()
  }

  /** Writes this node's liveness record if its opinions changed since it last wrote it. */
  private async writeOpinion(): Promise<void> {
    const opinion = this.view.ownOpinion()
    const text = JSON.stringify(opinion)
    if (text === this.writtenOpinion) return
    this.writtenOpinion = text
    await this.opinions.put(this.selfId, opinion)
  }

  private onPeerState(peer: string, state: Liveness, previous: Liveness | undefined): void {
    if (previous !== undefined || state !== 'suspect') {
      this.log.info(
        { peer, name: this.nameOf(peer), state, previous },
        `node ${this.nameOf(peer)} is ${state}`,
      )
    }
    // Opinions (this node's suspicions and declarations) go out on the next tick, coalesced.
    if (state === 'suspect') this.prober.probeSoon(peer)
    // Declared dead with a connection still open (a pulled cable leaves TCP looking open): drop it, so that the
    // dialer redials once the peer can be reached again.
    if (state === 'dead' && this.mesh.isConnected(peer)) this.mesh.dropConnections(peer)
    if (state === 'left' || state === 'dead') this.clock.forget(peer)
    this.emit('peer:state', peer, state, previous)
  }

  private onNodeRecord(change: RecordChange<NodeValue>): void {
    const { id: peer, record, value } = change
    if (peer === this.selfId) {
      // Our record deleted (collected by mistake, or by a hostile member), or an older one of ours from a peer:
      // this node is here, and says so again.
      if (value === undefined && this.running) void this.own.rewrite()
      return
    }
    if (value === undefined || record === undefined) {
      this.view.forget(peer)
      this.knownAddresses.delete(peer)
      this.noteDrained(peer, false)
      return
    }
    this.learn(record, change.source === 'gossip')
    this.noteDrained(peer, value.drained === true)
  }

  private learn(record: StateRecord<NodeValue>, fresh: boolean): void {
    const value = record.value
    const peer = this.records.idOf(record.key)
    if (peer === this.selfId || value === null) return
    const left = value.state === 'left'
    this.view.learn(peer, { incarnation: value.incarnation ?? 0, left }, fresh)
    if (left) {
      this.mesh.forgetPeer(peer)
      this.knownAddresses.delete(peer)
    } else {
      this.learnAddresses(peer, value)
    }
  }

  private noteDrained(peer: string, drained: boolean): void {
    if (drained === this.drainedPeers.has(peer)) return
    if (drained) this.drainedPeers.add(peer)
    else this.drainedPeers.delete(peer)
    this.log.info(
      { peer, name: this.nameOf(peer), drained },
      `node ${this.nameOf(peer)} ${drained ? 'drained' : 'undrained'}`,
    )
    this.emit('peer:drained', peer, drained)
  }

  private onOpinion(observer: string, value: LivenessValue | undefined): void {
    if (observer === this.selfId) return
    this.view.observe(observer, value)
    const doubt = this.view.doubtAboutSelf()
    if (doubt !== undefined && doubt >= this.own.currentIncarnation()) {
      this.log.warn({ observer, incarnation: doubt }, 'refuting a suspicion about this node')
      this.metrics.refutations.inc()
      this.prober.raiseHealth()
      this.own.refute(doubt).catch((err: Error) => this.log.error({ err: err.message }, 'could not refute'))
    }
  }

  private learnAddresses(peer: string, value: NodeValue): void {
    const joined = value.addresses.join(' ')
    if (this.knownAddresses.get(peer) === joined) return
    this.knownAddresses.set(peer, joined)
    this.mesh.addPeerAddresses(peer, value.addresses).catch((err: Error) => {
      this.log.debug({ peer, err: err.message }, 'could not record peer addresses')
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
   * Nodes that stand for the coordinator role, are alive and up in this node's view, and whose clock does not run
   * ahead of ours past the skew bound (we would refuse what they write): by peer id, this node included if it stands.
   */
  coordinatorCandidates(): string[] {
    const candidates: string[] = []
    for (const [peer, node] of this.records.entries()) {
      if (node.state !== 'up' || node.coordinator === false || this.clock.peerAhead(peer)) continue
      if (this.livenessOf(peer) === 'alive') candidates.push(peer)
    }
    return candidates.sort()
  }

  /** How far this node's clock runs ahead of its peers', if beyond the skew bound (they refuse its records). */
  clockAheadMs(): number | undefined {
    return this.clock.aheadByMs()
  }

  /** True if `peer`'s clock runs ahead of ours past the skew bound: we refuse what it writes. */
  peerClockAhead(peer: string): boolean {
    return this.clock.peerAhead(peer)
  }

  /** Nodes by name; without `all`, only alive and suspect ones. */
  nodes(options: { all?: boolean } = {}): NodeView[] {
    return this.records
      .list()
      .map((record) => toNodeView(record, this.viewContext))
      .filter((node) => options.all === true || node.state === 'alive' || node.state === 'suspect')
      .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
  }

  /** As `nodes`, with the load, free memory and free disk each alive node answers now (its record's if it does not). */
  nodesLive(options: { all?: boolean } = {}): Promise<NodeView[]> {
    return this.usage.apply(this.nodes(options))
  }

  /** As `node`, with live usage. */
  async nodeLive(ref: string): Promise<NodeView> {
    const [node] = await this.usage.apply([this.node(ref)])
    return node!
  }

  /** The usage of each of `peers` that answers in time (asked over the usage protocol). */
  liveUsage(peers: readonly string[]): Promise<Map<string, Usage>> {
    return this.usage.of(peers)
  }

  /** The node records of the nodes alive now (this one included): cheaper than views, for the scheduler. */
  aliveNodes(): NodeValue[] {
    const alive: NodeValue[] = []
    for (const [peer, value] of this.records.entries())
      if (this.livenessOf(peer) === 'alive') alive.push(value)
    return alive
  }

  /** One node by peer id, by name, or by a unique tail of its peer id (at least 4 characters). */
  node(ref: string): NodeView {
    return findNode(this.nodes({ all: true }), ref)
  }

  self(): NodeView {
    return this.node(this.selfId)
  }

  /** Tells node views who holds the coordinator role (the coordinator starts after membership). */
  showCoordinator(holder: () => string | undefined): void {
    this.coordinatorHolder = holder
  }

  /** Wall time of this node's last sign of life from the peer (a probe answered, its record gossiped). */
  lastSeen(peer: string): number | undefined {
    return this.view.lastSeen(peer)
  }

  livenessOf(peer: string): Liveness | undefined {
    return peer === this.selfId ? 'alive' : this.view.state(peer)
  }

  /**
   * Nodes dead or left in this node's view whose own record is older than `ms`: gone at least that long, less the
   * refresh period (a live node rewrites its record hourly, see NODE_REFRESH_MS).
   */
  goneLongerThan(ms: number, wallNow = Date.now()): string[] {
    const gone: string[] = []
    for (const record of this.records.list()) {
      const peer = this.records.idOf(record.key)
      const state = this.livenessOf(peer)
      if ((state === 'dead' || state === 'left') && wallNow - record.stamp.wall > ms) gone.push(peer)
    }
    return gone
  }

  /** The deletions of membership's records about a node that is gone for good: its node record and its opinions. */
  removalsFor(peer: string): LocalWrite[] {
    const writes: LocalWrite[] = [this.records.removal(peer)]
    if (this.opinions.value(peer) !== undefined) writes.push(this.opinions.removal(peer))
    if (this.settings.value(peer) !== undefined) writes.push(this.settings.removal(peer))
    return writes
  }
}
