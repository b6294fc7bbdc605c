// The `node/<peerId>` record: what each node says about itself, written only by that node.
import { z } from 'zod'
import { defineKind, PEER_ID_PATTERN, subjectOf } from '../state/index.js'
import { MAX_GPU_MODEL_LENGTH, MAX_GPUS } from './gpus.js'
import { livenessKind } from './liveness-record.js'
import { nodeSettingsKind } from './node-settings.js'

const uint = z.number().int().nonnegative()

export const resourcesSchema = z.object({
  cpus: uint,
  memoryTotal: uint,
  memoryFree: uint,
  diskTotal: uint,
  diskFree: uint,
  /** GPUs (NVIDIA device nodes); absent from nodes older than the job service. */
  gpus: uint.optional(),
  /** Each GPU's model by device index, where the system says or `--gpus N:MODEL` declares; absent in older records. */
  gpuModels: z.array(z.string().max(MAX_GPU_MODEL_LENGTH)).max(MAX_GPUS).optional(),
  /** 1, 5 and 15 minute load averages. */
  load: z.tuple([z.number().nonnegative(), z.number().nonnegative(), z.number().nonnegative()]),
})
export type Resources = z.infer<typeof resourcesSchema>

export const nodeValueSchema = z.object({
  name: z.string().min(1).max(253),
  peerId: z.string().regex(PEER_ID_PATTERN),
  addresses: z.array(z.string().max(512)).max(64),
  resources: resourcesSchema,
  labels: z
    .record(z.string().max(63), z.string().max(256))
    .refine((labels) => Object.keys(labels).length <= 64, 'at most 64 labels'),
  /** The drivers this node runs: its policy (`--drivers`), and for docker an engine that answers. */
  drivers: z.object({ docker: z.boolean(), exec: z.boolean() }),
  /** Its containers may use host, container:<name> or named networks (`--allow-host-network`); absent means no. */
  hostNetwork: z.boolean().optional(),
  /** Whether this node stands for the coordinator role (`--no-coordinator` says no); absent means yes. */
  coordinator: z.boolean().optional(),
  version: z.string().max(64),
  /** When this run of the daemon started (ms since the epoch). */
  startedAt: uint,
  /**
   * SWIM's incarnation: raised by the node itself to refute a suspicion or a death declared about a lower one
   * (and at every start). Absent in records of daemons older than probing: 0.
   */
  incarnation: uint.optional(),
  /** Written by daemons that heartbeat their record (older versions); ignored. */
  heartbeat: uint.optional(),
  heartbeatMs: uint.min(1).optional(),
  /** Drained by an operator (`shoal node drain`): no new work is placed here. Absent in older records: no. */
  drained: z.boolean().optional(),
  /** `left` is written once on a clean stop. */
  state: z.enum(['up', 'left']),
})
export type NodeValue = z.infer<typeof nodeValueSchema>

export const NODE_KIND = 'node'

/**
 * `node/<peerId>`: written only by that peer, and about itself only. The coordinator deletes the record of a node
 * gone for good (any member may write the tombstone; a node alive to see it writes itself again).
 */
export const nodeKind = defineKind<NodeValue>({
  name: NODE_KIND,
  schema: nodeValueSchema,
  writer: (record) => {
    const peer = subjectOf(record.key)
    if (record.deleted || record.value === null) {
      return PEER_ID_PATTERN.test(peer) ? undefined : `${record.key} names no peer`
    }
    if (peer !== record.origin) return `${record.key} may only be written by its subject`
    if (record.value.peerId !== peer) return `${record.key} describes ${record.value.peerId}`
    const foreign = record.value.addresses.find((address) => addressPeer(address, peer) !== peer)
    return foreign === undefined
      ? undefined
      : `${record.key} advertises ${foreign}, an address of another peer`
  },
})

/**
 * The peer an advertised multiaddr leads to: its last `/p2p/<id>` (`/ipfs/` is the old spelling), or `self` when
 * it names none. Others dial these addresses to reach the record's subject, so one naming another peer would
 * point them at someone else.
 */
function addressPeer(address: string, self: string): string {
  let peer = self
  for (const match of address.matchAll(/\/(?:p2p|ipfs)\/([^/]+)/g)) peer = match[1]!
  return peer
}

/** The kinds membership writes. */
export const membershipKinds = [nodeKind, livenessKind, nodeSettingsKind]
