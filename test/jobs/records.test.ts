// The batched job kinds' writer rules, as every receiver judges them: each batch only from the one who may write it.
import { beforeAll, describe, expect, it } from 'vitest'
import { jobKinds, type RunValue } from '../../src/jobs/records.js'
import { normaliseJob } from '../../src/jobs/spec.js'
import { KindRegistry } from '../../src/state/kinds.js'
import { RecordVerifier } from '../../src/state/signer.js'
import { judgeRecord, type ValidationContext } from '../../src/state/validate.js'
import { encodeRecord } from '../../src/state/wire.js'
import { newIdentity, type TestIdentity } from '../helpers/keys.js'

let node: TestIdentity
let other: TestIdentity
const kinds = new KindRegistry(jobKinds)

beforeAll(async () => {
  node = await newIdentity()
  other = await newIdentity()
})

function judge(writer: TestIdentity, key: string, value: unknown, term = 0) {
  const ctx: ValidationContext = {
    kinds,
    verifier: new RecordVerifier(),
    now: Date.now(),
    maxSkewMs: 10_000,
    tombstoneTtlMs: 60_000,
  }
  const record = encodeRecord(
    writer.signer,
    key,
    value,
    { wall: Date.now(), counter: 0, node: writer.peerId },
    { term },
  )
  return judgeRecord(record, ctx)
}

function report(of: TestIdentity): RunValue & { job: string } {
  return {
    job: 'j0123456789abcdef',
    node: of.peerId,
    attempt: 1,
    state: 'succeeded',
    exitCode: 0,
    reason: null,
    startedAt: 1,
    finishedAt: 2,
    pid: null,
  }
}

describe('batched job records', () => {
  it('accept a run batch from the node it names', () => {
    expect(judge(node, `runs/${node.peerId}/1-0`, { reports: [report(node)] }).ok).toBe(true)
  })

  it('refuse a run batch written by a node other than its owner', () => {
    expect(judge(other, `runs/${node.peerId}/1-0`, { reports: [report(node)] })).toMatchObject({
      ok: false,
      reason: 'writer',
    })
  })

  it('refuse a run report about another node, even in the writer’s own batch', () => {
    expect(judge(other, `runs/${other.peerId}/1-0`, { reports: [report(node)] })).toMatchObject({
      ok: false,
      reason: 'writer',
    })
  })

  it('refuse a spec batch holding a job another node took', () => {
    const spec = normaliseJob({ driver: 'exec', command: ['true'] }, 'job', {
      now: 1,
      submittedBy: node.peerId,
    })
    expect(judge(node, `jobs/${node.peerId}/1-0`, { specs: [spec] }).ok).toBe(true)
    expect(judge(other, `jobs/${other.peerId}/1-0`, { specs: [spec] })).toMatchObject({
      ok: false,
      reason: 'writer',
    })
  })

  it('refuse an assignment batch whose entries name another node than its key', () => {
    const entry = {
      attempt: 1,
      generation: 0,
      phase: 'assigned',
      node: other.peerId,
      outcome: null,
      reason: null,
      failures: 0,
      retryAt: null,
      at: 1,
    }
    const result = judge(node, `assignments/${node.peerId}/1-0`, { entries: { j0123456789abcdef: entry } }, 1)
    expect(result).toMatchObject({ ok: false, reason: 'writer' })
  })

  it('refuse batch keys that do not name their owner and batch', () => {
    expect(judge(node, `runs/${node.peerId}`, { reports: [report(node)] })).toMatchObject({
      ok: false,
      reason: 'writer',
    })
    expect(judge(node, `runs/${node.peerId}/../x`, { reports: [report(node)] })).toMatchObject({ ok: false })
  })
})
