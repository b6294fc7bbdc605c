// Placing waiting jobs in order (priority, then age) on the best node that fits; never over-commits.
import type { JobBook, JobRecords } from '../job-book.js'
import { type Candidate, chooseNode, neverFits } from '../placement.js'
import type { AssignValue } from '../records.js'
import { isFinal } from '../states.js'
import { deriveState } from '../view.js'
import type { WaitQueue } from '../wait-queue.js'
import { assignedValue, finalValue, pendingValue } from './assignment-values.js'
import type { Placements } from './placements.js'

export interface PlaceContext {
  jobs: Pick<JobBook, 'read'>
  waiting: WaitQueue
  placements: Placements
  candidates: Candidate[]
  /** Share of a node's capacity that may be placed beyond it (work queued ahead); 0 for none. */
  aheadShare: number
  /**
   * Per node, the share (0..1) of an image's layer bytes it holds (absent: none), to prefer nodes near it;
   * undefined while the image's layers are being looked up (its jobs wait for a later pass).
   */
  imageBytesHeld(ref: string): ReadonlyMap<string, number> | undefined
  now: number
  /** A job waits on its image's layer lookup: pass again shortly. */
  imageLookupPending(): void
  write(id: string, value: AssignValue): void
  /** Why a waiting job cannot be placed anywhere, when that changed and nothing else did (see SCHEDULE_NOTE_GAP_MS). */
  note(id: string, value: AssignValue): void
  /** A job was placed (for the metric). */
  placed(): void
}

const NONE_HELD: ReadonlyMap<string, number> = new Map()

export function placeWaiting(ctx: PlaceContext): void {
  const { waiting, now } = ctx
  if (waiting.size === 0) return
  const noRoom = new Set<string>()
  const unplaceable = new Map<string, string | undefined>()
  const held = new Map<string, ReadonlyMap<string, number> | undefined>()
  let waitedOnImage = false
  for (const { spec, shape } of waiting.inOrder()) {
    if (noRoom.size === waiting.shapeCount) break
    if (noRoom.has(shape)) continue
    const records = ctx.jobs.read(spec.id)
    if (records === undefined) continue
    const { assign } = records
    if (assign?.retryAt != null && assign.retryAt > now) continue
    const blocked = parentsBlock(records, ctx)
    if (blocked !== undefined) {
      if (blocked === 'failed') waiting.delete(spec.id)
      continue
    }
    let imageBytes: ReadonlyMap<string, number> | undefined = NONE_HELD
    if (spec.image !== null) {
      imageBytes = held.has(spec.image) ? held.get(spec.image) : ctx.imageBytesHeld(spec.image)
      held.set(spec.image, imageBytes)
    }
    // Its image's layers are being looked up (briefly, once per image): placed in a later pass, knowing them.
    if (imageBytes === undefined) {
      waitedOnImage = true
      continue
    }
    const ahead = spec.restart === 'always' ? 0 : ctx.aheadShare
    const node = chooseNode(spec, ctx.candidates, ctx.placements.used, imageBytes, ahead)
    if (node === undefined) {
      // Waiting for room is normal and says nothing; a job no live node could ever run says why.
      const reason = unplaceable.has(shape) ? unplaceable.get(shape) : neverFits(spec, ctx.candidates)
      unplaceable.set(shape, reason)
      // (A service is never queued ahead: jobs of its shape behind it may still be.)
      if (reason === undefined && (spec.restart !== 'always' || ctx.aheadShare === 0)) noRoom.add(shape)
      else if (reason !== undefined && assign?.reason !== reason) {
        ctx.note(spec.id, {
          ...(assign ?? pendingValue({ attempt: 1, generation: 0, now })),
          reason,
          at: now,
        })
      }
      continue
    }
    ctx.write(spec.id, assignedValue(assign, node.id, now))
    ctx.placed()
    ctx.placements.activate(spec.id, node.id, spec.resources)
    waiting.delete(spec.id)
  }
  if (waitedOnImage) ctx.imageLookupPending()
}

/** Undefined if every parent succeeded; `failed` if one ended otherwise (this job is failed); else `wait`. */
function parentsBlock(records: JobRecords, ctx: PlaceContext): 'failed' | 'wait' | undefined {
  for (const parentId of records.spec.after) {
    const parent = ctx.jobs.read(parentId)
    if (parent === undefined) return 'wait'
    const state = deriveState(parent).state
    if (state === 'succeeded') continue
    if (!isFinal(state)) return 'wait'
    const generation = records.assign?.generation ?? 0
    ctx.write(
      records.spec.id,
      finalValue(records.assign, generation, 'failed', `dependency ${parentId} ${state}`, ctx.now),
    )
    return 'failed'
  }
  return undefined
}
