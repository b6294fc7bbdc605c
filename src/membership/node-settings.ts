// `nodeset/<peerId>`: what operators asked of a node at runtime (drained, labels), applied by that node to its record.
import { z } from 'zod'
import { defineKind, PEER_ID_PATTERN, subjectOf } from '../state/index.js'
import { LABEL_KEY } from '../util/parse.js'

/** At most this many labels a node carries, from its flags and from runtime changes together. */
export const MAX_LABELS = 64

export const nodeSettingsValueSchema = z.object({
  /** No new work is placed on the node; its `--restart always` jobs move elsewhere. */
  drained: z.boolean(),
  /** Label changes over the node's own (`--label`): a value sets one, null removes one. */
  labels: z
    .record(z.string().regex(LABEL_KEY), z.string().max(256).nullable())
    .refine((labels) => Object.keys(labels).length <= MAX_LABELS, `at most ${MAX_LABELS} labels`),
})
export type NodeSettingsValue = z.infer<typeof nodeSettingsValueSchema>

export const NODE_SETTINGS_KIND = 'nodeset'

/**
 * Any member may write a node's settings (as any member may submit work to it: docs/security.md); the node
 * itself applies them to its own record, which is what placement reads, so a node that never saw the settings
 * is never treated as drained.
 */
export const nodeSettingsKind = defineKind<NodeSettingsValue>({
  name: NODE_SETTINGS_KIND,
  schema: nodeSettingsValueSchema,
  writer: (record) =>
    PEER_ID_PATTERN.test(subjectOf(record.key)) ? undefined : `${record.key} names no peer`,
})

/** A change asked for by `shoal node drain|undrain|label`. */
export interface NodeSettingsChange {
  drained?: boolean
  /** Labels to set (value) or remove (null). */
  labels?: Record<string, string | null>
}

export const NO_SETTINGS: NodeSettingsValue = { drained: false, labels: {} }

/** The settings after `change`. */
export function changedSettings(current: NodeSettingsValue, change: NodeSettingsChange): NodeSettingsValue {
  return {
    drained: change.drained ?? current.drained,
    labels: { ...current.labels, ...change.labels },
  }
}

/** A node's labels: its own, with the runtime changes over them. */
export function effectiveLabels(
  own: Readonly<Record<string, string>>,
  changes: Readonly<Record<string, string | null>>,
): Record<string, string> {
  const labels: Record<string, string> = { ...own }
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete labels[key]
    else labels[key] = value
  }
  return labels
}
