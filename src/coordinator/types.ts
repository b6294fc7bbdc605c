// The coordinator's types: its view, events, options and what it needs from the rest of the daemon.
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Membership } from '../membership/index.js'
import type { Mesh } from '../mesh/index.js'
import type { ReplicatedState, WallClock } from '../state/index.js'

/** `follower`: not coordinating; `candidate`: claimed, waiting to see the claim stand; `holder`: coordinating. */
export type Role = 'follower' | 'candidate' | 'holder'

/** The coordinator as one node sees it (`shoal coordinator --json`). */
export interface CoordinatorView {
  /** `held`: a live lease; `lapsed`: the last lease ran out and an election is due; `none`: never elected. */
  status: 'held' | 'lapsed' | 'none'
  holder: string | null
  holderName: string | null
  term: number
  /** True if the answering node is the coordinator. */
  self: boolean
  /** ISO time the holder's term began (its clock). */
  since: string | null
  /** Always null: the lease does not expire, it holds while its holder lives (kept for older clients). */
  expiresAt: string | null
  /** The answering node's role. */
  role: Role
  /** Whether the answering node stands for the role. */
  eligible: boolean
}

export interface CoordinatorEvents {
  /** The holder or term changed, or this node took or left the role. */
  change: [view: CoordinatorView]
}

export interface CoordinatorInit {
  /** This node's name, written into the lease it holds. */
  name: string
  /** Stands for the role (`--no-coordinator` makes it false). @default true */
  eligible?: boolean
  /** @default the system clock */
  clock?: WallClock
}

export interface CoordinatorComponents {
  state: ReplicatedState
  /** Who is alive, and who stands for the role. */
  membership: Pick<
    Membership,
    'livenessOf' | 'lastSeen' | 'coordinatorCandidates' | 'clockAheadMs' | 'peerClockAhead'
  >
  mesh: Pick<Mesh, 'peerId'>
  logger: Logger
  metrics: Registry
}
