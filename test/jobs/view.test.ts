import { describe, expect, it } from 'vitest'
import type { AssignValue, RunValue } from '../../src/jobs/records.js'
import { normaliseJob } from '../../src/jobs/spec.js'
import { deriveState } from '../../src/jobs/view.js'

const PEER = '12D3KooWLWomxqdiAuZKSQBNYfhJoC8JSERe31aJ6BWat5M9QUVx'
const spec = (extra: Record<string, unknown> = {}) =>
  normaliseJob({ driver: 'exec', command: ['true'], ...extra }, 'job', { now: 0, submittedBy: PEER })
const assigned = (attempt: number, failures = 0): AssignValue => ({
  attempt,
  generation: 0,
  phase: 'assigned',
  node: PEER,
  outcome: null,
  reason: null,
  failures,
  retryAt: null,
  at: 1,
})
const run = (attempt: number, state: RunValue['state'], exitCode: number | null = null): RunValue => ({
  node: PEER,
  attempt,
  state,
  exitCode,
  reason: exitCode ? `exited with code ${exitCode}` : null,
  startedAt: 1,
  finishedAt: state === 'running' ? null : 2,
  pid: null,
})

describe('job state from records', () => {
  it('goes pending → assigned → running → succeeded', () => {
    const s = spec()
    expect(deriveState({ spec: s, assign: undefined, control: undefined, run: undefined }).state).toBe(
      'pending',
    )
    expect(deriveState({ spec: s, assign: assigned(1), control: undefined, run: undefined }).state).toBe(
      'assigned',
    )
    expect(
      deriveState({ spec: s, assign: assigned(1), control: undefined, run: run(1, 'running') }).state,
    ).toBe('running')
    expect(
      deriveState({ spec: s, assign: assigned(1), control: undefined, run: run(1, 'succeeded', 0) }),
    ).toMatchObject({
      state: 'succeeded',
      exitCode: 0,
    })
  })

  it('shows a failure that will be retried as pending, and only the last one as failed', () => {
    const s = spec({ retries: 1 })
    expect(
      deriveState({ spec: s, assign: assigned(1, 0), control: undefined, run: run(1, 'failed', 2) }).state,
    ).toBe('pending')
    expect(
      deriveState({ spec: s, assign: assigned(2, 1), control: undefined, run: run(2, 'failed', 2) }),
    ).toMatchObject({
      state: 'failed',
      reason: 'exited with code 2; 1 retry used up',
    })
  })

  it('runs lost work and `always` services again, but not cancelled ones', () => {
    const service = spec({ restart: 'always' })
    expect(
      deriveState({ spec: spec(), assign: assigned(1), control: undefined, run: run(1, 'lost') }).state,
    ).toBe('pending')
    expect(
      deriveState({ spec: service, assign: assigned(1), control: undefined, run: run(1, 'succeeded', 0) })
        .state,
    ).toBe('pending')
    expect(
      deriveState({ spec: service, assign: assigned(1), control: undefined, run: run(1, 'cancelled') }).state,
    ).toBe('cancelled')
  })

  it('shows a requested retry of a finished job as pending at once', () => {
    const control = { generation: 1, cancel: false, at: 3 }
    expect(deriveState({ spec: spec(), assign: assigned(1), control, run: run(1, 'failed', 1) }).state).toBe(
      'pending',
    )
  })
})
