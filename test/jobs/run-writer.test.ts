// The run writer: a short job writes one run record (its end); a long one reports running, later; writes are spaced under load; stop writes all.
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  RUN_BUSY_GAP_MS,
  RUN_FLOOD_GAP_MS,
  RUN_FLOOD_REPORTS,
  RUN_FLUSH_MS,
  RUNNING_REPORT_DELAY_MS,
} from '../../src/jobs/constants.js'
import type { RunValue } from '../../src/jobs/records.js'
import { RunWriter } from '../../src/jobs/run-writer.js'

const PEER = '12D3KooWLWomxqdiAuZKSQBNYfhJoC8JSERe31aJ6BWat5M9QUVx'

function run(state: RunValue['state'], attempt = 1): RunValue {
  const ended = state !== 'running'
  return {
    node: PEER,
    attempt,
    state,
    exitCode: ended ? 0 : null,
    reason: null,
    startedAt: 1,
    finishedAt: ended ? 2 : null,
    pid: 42,
  }
}

describe('run writer', () => {
  let batches: Array<Array<{ key: string; value: RunValue }>>
  /** performance.now() of each batch's write. */
  let writtenAt: number[]
  let writer: RunWriter

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
    batches = []
    writtenAt = []
    const write = async (reports: ReadonlyArray<readonly [string, RunValue]>) => {
      batches.push(reports.map(([id, value]) => ({ key: `run/${id}/${value.attempt}`, value })))
      writtenAt.push(performance.now())
    }
    writer = new RunWriter(write, pino({ level: 'silent' }))
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  const states = () => batches.map((batch) => batch.map(({ key, value }) => `${key}:${value.state}`))

  it('writes only the end of a job that ends before it would be reported running', async () => {
    writer.report('j0000000000000001', run('running'))
    await vi.advanceTimersByTimeAsync(RUNNING_REPORT_DELAY_MS / 2)
    writer.report('j0000000000000001', run('succeeded'))
    await vi.advanceTimersByTimeAsync(RUN_FLUSH_MS)
    expect(states()).toEqual([['run/j0000000000000001/1:succeeded']])
    await vi.advanceTimersByTimeAsync(RUNNING_REPORT_DELAY_MS * 2)
    expect(batches).toHaveLength(1)
  })

  it('reports a longer job running after the delay, then its end', async () => {
    writer.report('j0000000000000002', run('running'))
    await vi.advanceTimersByTimeAsync(RUNNING_REPORT_DELAY_MS - 1)
    expect(batches).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(states()).toEqual([['run/j0000000000000002/1:running']])
    writer.report('j0000000000000002', run('failed'))
    // The write before it was just now: this one waits out the busy gap.
    await vi.advanceTimersByTimeAsync(RUN_BUSY_GAP_MS - 1)
    expect(batches).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(states()).toEqual([['run/j0000000000000002/1:running'], ['run/j0000000000000002/1:failed']])
  })

  it('writes at most once per busy gap under a stream of reports, and waits longer after a flood', async () => {
    let n = 0
    const id = () => `j${String(++n).padStart(16, '0')}`
    // A job ends every 5 ms for a second: one write per gap, not one per RUN_FLUSH_MS.
    for (let t = 0; t < 1_000; t += 5) {
      writer.report(id(), run('succeeded'))
      await vi.advanceTimersByTimeAsync(5)
    }
    await vi.advanceTimersByTimeAsync(RUN_FLOOD_GAP_MS)
    expect(batches.flat()).toHaveLength(200)
    expect(batches.length).toBeLessThanOrEqual(Math.ceil(1_000 / RUN_BUSY_GAP_MS) + 1)
    // Each write waited out the gap its predecessor called for: the flood gap after a write of a flood.
    expect(batches.some((batch) => batch.length >= RUN_FLOOD_REPORTS)).toBe(true)
    for (let i = 1; i < batches.length; i++) {
      const gap = batches[i - 1]!.length >= RUN_FLOOD_REPORTS ? RUN_FLOOD_GAP_MS : RUN_BUSY_GAP_MS
      expect(writtenAt[i]! - writtenAt[i - 1]!).toBeGreaterThanOrEqual(gap)
    }
    // After a quiet spell, a report goes out within RUN_FLUSH_MS again.
    await vi.advanceTimersByTimeAsync(RUN_FLOOD_GAP_MS * 2)
    const before = batches.length
    writer.report(id(), run('succeeded'))
    await vi.advanceTimersByTimeAsync(RUN_FLUSH_MS)
    expect(batches).toHaveLength(before + 1)
  })

  it('writes a running report asked for soon with the end it goes with, even when a later report replaces it', async () => {
    // A job that waited for room starts as another ends: both reports go out together.
    writer.report('j0000000000000031', run('running'), true)
    writer.report('j0000000000000030', run('succeeded'))
    // Its process started a moment later: the report with its pid keeps the early deadline.
    await vi.advanceTimersByTimeAsync(RUN_FLUSH_MS / 2)
    writer.report('j0000000000000031', { ...run('running'), pid: 43 })
    await vi.advanceTimersByTimeAsync(RUN_FLUSH_MS / 2)
    expect(states()).toEqual([['run/j0000000000000031/1:running', 'run/j0000000000000030/1:succeeded']])
    expect(batches[0]![0]!.value.pid).toBe(43)
  })

  it('batches the ends of many jobs into one write, and writes what is queued on flush', async () => {
    for (let n = 1; n <= 5; n++) writer.report(`j000000000000001${n}`, run('succeeded'))
    writer.report('j0000000000000020', run('running'))
    await vi.advanceTimersByTimeAsync(RUN_FLUSH_MS)
    expect(batches).toHaveLength(1)
    expect(batches[0]).toHaveLength(5)
    await writer.flush()
    expect(states()[1]).toEqual(['run/j0000000000000020/1:running'])
    await vi.advanceTimersByTimeAsync(RUNNING_REPORT_DELAY_MS * 2)
    expect(batches).toHaveLength(2)
  })

  it('holds a report from when it is queued until its write has resolved, then says which jobs settled', async () => {
    const gate = Promise.withResolvers<void>()
    const settled: string[][] = []
    const gated = new RunWriter(
      async () => gate.promise,
      pino({ level: 'silent' }),
      (ids) => settled.push([...ids]),
    )
    gated.report('j0000000000000040', run('succeeded'))
    expect(gated.holds('j0000000000000040', 1)).toBe(true)
    expect(gated.holds('j0000000000000040', 2)).toBe(false)
    await vi.advanceTimersByTimeAsync(RUN_FLUSH_MS)
    // Being written: still held, nothing settled.
    expect(gated.holds('j0000000000000040', 1)).toBe(true)
    expect(settled).toEqual([])
    gate.resolve()
    await vi.advanceTimersByTimeAsync(0)
    expect(gated.holds('j0000000000000040', 1)).toBe(false)
    expect(settled).toEqual([['j0000000000000040']])
  })
})
