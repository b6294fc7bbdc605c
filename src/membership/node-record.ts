// The `node/<peerId>` record: what each node says about itself, written only by that node.
import { z } from 'zod'
import type { RecordKind } from '../state/index.js'
import { PEER_ID_PATTERN } from '../state/index.js'

const uint = z.number().int().nonnegative()

export const resourcesSchema = z.object({
  cpus: uint,
  memoryTotal: uint,
  memoryFree: uint,
  diskTotal: uint,
  diskFree: uint,
  /** GPUs (NVIDIA device nodes); absent from nodes older than the job service. */
  gpus: uint.optional(),
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
  drivers: z.object({ docker: z.boolean(), exec: z.boolean() }),
  /** Whether this node stands for the coordinator role (`--no-coordinator` says no); absent means yes. */
  coordinator: z.boolean().optional(),
  version: z.string().max(64),
  /** When this run of the daemon started (ms since the epoch). */
  startedAt: uint,
  /** Increments with every heartbeat of this run. */
  heartbeat: uint,
  /** The interval this node heartbeats at now; observers time it out relative to this. */
  heartbeatMs: uint.min(1).optional(),
  /** `left` is written once on a clean stop. */
  state: z.enum(['up', 'left']),
})
export type NodeValue = z.infer<typeof nodeValueSchema>

export const NODE_KIND = 'node'

export const nodeKind: RecordKind<NodeValue> = {
  name: NODE_KIND,
  schema: nodeValueSchema,
  writer: 'key-owner',
}

export function nodeKey(peerId: string): string {
  return `${NODE_KIND}/${peerId}`
}
