// The replicated state's face: records with one writer each, LWW merge, LevelDB, gossip and anti-entropy sync.
import type { ReplicatedStateComponents, ReplicatedStateInit } from './replicated-state.js'
import { ReplicatedState } from './replicated-state.js'

export * as stateConstants from './constants.js'
export type { Stamp, WallClock } from './hlc.js'
export { compareStamps, HybridLogicalClock, systemClock } from './hlc.js'
export { type FenceFactory, KindHandle, type KindSource } from './kind-handle.js'
export type { AnyRecordKind, Fence, RecordKind, WriterRule } from './kinds.js'
export { defineKind } from './kinds.js'
export type { StateRecord, Version } from './record.js'
export { compareRecords, compareVersions, kindOf, mergeRecords, subjectOf, versionOf } from './record.js'
export type { ReplicatedStateComponents, ReplicatedStateInit } from './replicated-state.js'
export { ReplicatedState } from './replicated-state.js'
export { RecordStore } from './store.js'
export type {
  ChangeSource,
  LocalWrite,
  RecordChange,
  RecordWatcher,
  WriteOptions,
  WriteResult,
} from './types.js'
export { DROP_REASONS, type DropReason } from './validate.js'
export { PEER_ID_PATTERN, termCeiling } from './wire.js'

export function createReplicatedState(
  components: ReplicatedStateComponents,
  init: ReplicatedStateInit,
): ReplicatedState {
  return new ReplicatedState(components, init)
}
