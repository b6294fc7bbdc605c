// One node's replicated state with no network: a real LevelDB store and the real merge, fence and kinds, for unit tests.
import { EventEmitter } from 'node:events'
import pino from 'pino'
import { Registry } from 'prom-client'
import type { Mesh } from '../../src/mesh/index.js'
import {
  type AnyRecordKind,
  createReplicatedState,
  type FenceFactory,
  RecordStore,
  type ReplicatedState,
  type StateRecord,
} from '../../src/state/index.js'
import { judgeRecord } from '../../src/state/validate.js'
import { encodeRecord } from '../../src/state/wire.js'
import { newIdentity, type TestIdentity } from './keys.js'
import { makeTempDir, removeDir } from './temp-dir.js'

export interface LocalState {
  state: ReplicatedState
  identity: TestIdentity
  /** Judges and merges a record written and signed by another peer, as if it had arrived by sync; throws if refused. */
  receive(
    from: TestIdentity,
    key: string,
    value: unknown,
    options?: { term?: number; deleted?: boolean },
  ): Promise<StateRecord>
  close(): Promise<void>
}

/**
 * A mesh that never reaches anyone: the state's gossip and sync register with it and publish into nothing.
 * A unit test of one node's logic needs no peers; anything about peers is tested with real daemons.
 */
function isolatedMesh(identity: TestIdentity): Mesh {
  const mesh = Object.assign(new EventEmitter(), {
    peerId: identity.peerId,
    privateKey: identity.privateKey,
    start: async () => undefined,
    stop: async () => undefined,
    addresses: () => [],
    connectedPeers: () => [],
    isConnected: () => false,
    handle: async () => undefined,
    connect: async () => {
      throw new TypeError('an isolated mesh connects to nobody')
    },
    openStream: async () => {
      throw new TypeError('an isolated mesh opens no streams')
    },
    subscribe: () => undefined,
    publish: async () => 0,
    addPeerAddresses: async () => undefined,
    forgetPeer: () => undefined,
    remoteHost: () => undefined,
    gossipScore: () => 0,
    dropConnections: () => undefined,
    blockPeers: async () => undefined,
    ping: async () => {
      throw new TypeError('an isolated mesh pings nobody')
    },
  })
  return mesh as unknown as Mesh
}

export async function localState(kinds: readonly AnyRecordKind[], fence?: FenceFactory): Promise<LocalState> {
  const identity = await newIdentity()
  const dir = await makeTempDir('shoal-state-')
  const store = await RecordStore.open(dir)
  const state = createReplicatedState(
    { mesh: isolatedMesh(identity), store, logger: pino({ level: 'silent' }), metrics: new Registry() },
    { kinds, fence },
  )
  await state.start()
  let counter = 0
  return {
    state,
    identity,
    async receive(from, key, value, options = {}) {
      const stamp = { wall: Date.now(), counter: counter++, node: from.peerId }
      const record = encodeRecord(from.signer, key, value, stamp, options)
      const judged = judgeRecord(record, state.validationContext())
      if (!judged.ok) throw new TypeError(`refused ${key}: ${judged.reason} (${judged.detail})`)
      await state.applyRemote([judged.record], 'sync', from.peerId)
      return record
    },
    async close() {
      await state.stop()
      await store.close()
      await removeDir(dir)
    },
  }
}
