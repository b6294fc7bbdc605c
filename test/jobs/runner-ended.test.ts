// The runner and an attempt that just ended: until its report is in the book, no change to the job starts it again.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import pino from 'pino'
import { Registry } from 'prom-client'
import { afterEach, expect, it } from 'vitest'
import { createExecDriver } from '../../src/jobs/drivers/exec.js'
import { GpuAllocation } from '../../src/jobs/gpu-allocation.js'
import { createJobMetrics } from '../../src/jobs/metrics.js'
import type { RunValue } from '../../src/jobs/records.js'
import { Runner } from '../../src/jobs/runner.js'
import { assigned, bookWithLease, submitOne, writeAssignments } from '../helpers/job-records.js'
import type { LocalState } from '../helpers/local-state.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

it('neither runs again nor cancels an attempt whose end report is still being written', async () => {
  const opened: LocalState[] = []
  cleanups.push(async () => {
    for (const local of opened) await local.close()
  })
  const { local, book } = await bookWithLease(opened)
  const dataDir = await makeTempDir('shoal-runner-ended-')
  cleanups.push(() => removeDir(dataDir))
  const self = local.identity.peerId
  const driver = createExecDriver()
  cleanups.push(() => driver.close!())

  // The first batch of reports waits at this gate: the end is known to the runner, not yet to the book.
  const gate = Promise.withResolvers<void>()
  const runner: Runner = new Runner({
    self,
    jobs: book,
    writeReports: async (reports) => {
      await gate.promise
      return local.state.write(book.runWrites(reports))
    },
    capacity: () => ({ cpuMillis: 2_000, memory: 2 ** 30, disk: 2 ** 30, gpu: 0 }),
    gpus: new GpuAllocation(() => 0),
    drivers: { exec: driver },
    policy: () => ({ drivers: { docker: false, exec: true }, allowHostNetwork: false }),
    logMaxBytes: 1024,
    dataDir,
    metrics: createJobMetrics(new Registry(), { running: () => runner.runningCount(), waiting: () => 0 }),
    log: pino({ level: 'silent' }),
    now: Date.now,
  })
  runner.start()
  cleanups.push(() => runner.stop())
  // Before the stop above (cleanups run last first): a stop flushes the reports, which wait at the gate.
  cleanups.push(async () => gate.resolve())

  const marks = join(dataDir, 'runs.txt')
  const id = await submitOne(local, book, 'once', { command: ['sh', '-c', `echo ran >> ${marks}`] })
  await writeAssignments(local, book, [[id, assigned(self)]])
  await waitFor('the attempt to run and end', async () => {
    const ran = await readFile(marks, 'utf8').catch(() => '')
    return ran === 'ran\n' && runner.runningCount() === 0
  })
  expect(book.run(id, 1)).toBeUndefined()

  // Meanwhile the job's records change: the same assignment again (as a scheduling pass or a collected batch
  // announces it), then a cancel. Neither may start it again or put "cancelled" over its real end.
  await writeAssignments(local, book, [[id, assigned(self)]])
  // The runner looks at a change as it is announced, before the write resolves: a launch would show now.
  expect(runner.isRunning(id, 1)).toBe(false)
  await local.state.write([book.controlWrite(id, { generation: 0, cancel: true, at: Date.now() })])
  gate.resolve()
  await waitFor('the end report to reach the book', () => book.run(id, 1) !== undefined)
  await runner.stop()
  expect(await readFile(marks, 'utf8')).toBe('ran\n')
  expect(book.run(id, 1)).toMatchObject<Partial<RunValue>>({ state: 'succeeded', exitCode: 0 })
})
