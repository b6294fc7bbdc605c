// The service records, one writer each: spec and desired state (users), placements (coordinator, fenced), instance status (each node), variables (the node running the slot).
import { z } from 'zod'
import { defineKind, PEER_ID_PATTERN, subjectOf } from '../state/index.js'
import { MAX_REPLICAS } from './constants.js'
import { SERVICE_NAME_PATTERN, serviceSpecSchema, varsSchema } from './spec.js'

const uint = z.number().int().nonnegative()
const peerId = z.string().regex(PEER_ID_PATTERN)
const commit = z.string().regex(/^[0-9a-f]{40,64}$/)

/** `service/<name>`: what users asked for. Any member may write it (as any member may submit work). */
export const serviceValueSchema = z.object({
  spec: serviceSpecSchema,
  replicas: uint.max(MAX_REPLICAS),
  /** `stopped`: instances stay placed but do not run (`service stop`; `start` runs them again). */
  desired: z.enum(['running', 'stopped']),
  /** Bumped by each update and restart: instances roll onto it one at a time. */
  generation: uint.min(1),
  /** Bumped by each reset: variables go back to the spec's initial ones. */
  varsEpoch: uint,
  createdAt: uint,
  updatedAt: uint,
})
export type ServiceValue = z.infer<typeof serviceValueSchema>

/** One instance slot as the coordinator placed it: slot i of a service keeps its variables wherever it runs. */
export const slotSchema = z.object({
  /** Null while no node fits. */
  node: peerId.nullable(),
  /** The generation the slot's node is to run; rolled one slot at a time. */
  generation: uint,
  /** The git commit the slot's node is to run (git sources), rolled with the generation. */
  commit: commit.nullable(),
  /** When the coordinator last changed the slot (ms since the epoch): settle timeouts count from here. */
  since: uint,
})
export type Slot = z.infer<typeof slotSchema>

/** `placement/<name>`: the coordinator's placement of a service's instances, under its term. */
export const placementValueSchema = z.object({
  slots: z.array(slotSchema).max(MAX_REPLICAS),
  /** The commit the service's git ref pointed at when last looked up; null before the first lookup. */
  commit: commit.nullable(),
  /** Why the last lookup of the git ref failed, if it did. */
  commitError: z.string().max(1024).nullable(),
  at: uint,
})
export type PlacementValue = z.infer<typeof placementValueSchema>

export const INSTANCE_STATES = ['starting', 'running', 'backoff', 'stopped', 'failed'] as const
export type InstanceState = (typeof INSTANCE_STATES)[number]
export const HEALTH_STATES = ['none', 'starting', 'healthy', 'unhealthy'] as const

/** What a node says of one instance it runs (or ran). */
export const instanceStatusSchema = z.object({
  service: z.string().regex(SERVICE_NAME_PATTERN),
  slot: uint.max(MAX_REPLICAS),
  /** The service generation it runs: the acknowledgement of that generation. */
  generation: uint,
  commit: commit.nullable(),
  state: z.enum(INSTANCE_STATES),
  restarts: uint,
  health: z.enum(HEALTH_STATES),
  /** Why it is not running, or the last failed health check's output. */
  reason: z.string().max(1024).nullable(),
  startedAt: uint.nullable(),
  /** CPU in cores (averaged since the last heartbeat), resident memory and disk of its directory in bytes. */
  cpu: z.number().nonnegative(),
  memory: uint,
  disk: uint,
  /** Process group of an exec instance, so that a restarted node can take it over. */
  pid: uint.nullable(),
})
export type InstanceStatus = z.infer<typeof instanceStatusSchema>

/** `instances/<node>`: every instance the node runs, on a heartbeat and on each change; only that node writes it. */
export const instancesValueSchema = z.object({
  instances: z.array(instanceStatusSchema).max(4 * MAX_REPLICAS),
  at: uint,
})
export type InstancesValue = z.infer<typeof instancesValueSchema>

/** `vars/<name>/<slot>`: a slot's persistent variables, written by the node running it (or by a reset). */
export const varsValueSchema = z.object({
  values: varsSchema,
  /** The service's varsEpoch they belong to: values from before a reset are not used. */
  epoch: uint,
  node: peerId,
  at: uint,
})
export type VarsValue = z.infer<typeof varsValueSchema>

export const SERVICE_KIND = 'service'
export const PLACEMENT_KIND = 'placement'
export const INSTANCES_KIND = 'instances'
export const VARS_KIND = 'vars'

const namesService = (key: string): string | undefined =>
  SERVICE_NAME_PATTERN.test(subjectOf(key)) ? undefined : `${key} does not name a service`

export const serviceKind = defineKind<ServiceValue>({
  name: SERVICE_KIND,
  schema: serviceValueSchema,
  writer: (record) => {
    const bad = namesService(record.key)
    if (bad !== undefined || record.deleted || record.value === null) return bad
    return record.value.spec.name === subjectOf(record.key)
      ? undefined
      : `${record.key} holds the spec of ${record.value.spec.name}`
  },
})

export const placementKind = defineKind<PlacementValue>({
  name: PLACEMENT_KIND,
  schema: placementValueSchema,
  fenced: true,
  writer: (record) => namesService(record.key),
})

/**
 * `instances/<node>`: only that node writes it; the coordinator deletes the record of a node gone for good (any
 * member may write the tombstone; a node alive to see it writes itself again on its next heartbeat).
 */
export const instancesKind = defineKind<InstancesValue>({
  name: INSTANCES_KIND,
  schema: instancesValueSchema,
  writer: (record) => {
    const peer = subjectOf(record.key)
    if (!PEER_ID_PATTERN.test(peer)) return `${record.key} names no peer`
    if (record.deleted || record.value === null) return undefined
    return peer === record.origin ? undefined : `${record.key} may only be written by its subject`
  },
})

/** `<service>/<slot>` */
export function varsId(service: string, slot: number): string {
  return `${service}/${slot}`
}

export const varsKind = defineKind<VarsValue>({
  name: VARS_KIND,
  schema: varsValueSchema,
  writer: (record) => {
    const [service, slot, ...rest] = subjectOf(record.key).split('/')
    if (
      service === undefined ||
      !SERVICE_NAME_PATTERN.test(service) ||
      slot === undefined ||
      !/^(0|[1-9]\d{0,3})$/.test(slot) ||
      rest.length > 0
    ) {
      return `${record.key} is not vars/<service>/<slot>`
    }
    if (record.deleted || record.value === null) return undefined
    return record.value.node === record.origin
      ? undefined
      : `${record.key} names ${record.value.node} as its writer`
  },
})

/** The kinds the services part writes. */
export const serviceKinds = [serviceKind, placementKind, instancesKind, varsKind]
