import { readFile, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from '../../cli/client.js'
import type { JobList, JobView, StatusView } from '../../src/api/types.js'
import { dataDirPaths } from '../../src/daemon/data-dir.js'
import { isFinal } from '../../src/jobs/states.js'
import { listJobs, processAlive, showJob, submitJob, waitForJob } from '../helpers/jobs.js'
import { cleanupDaemons, type DaemonProcess, joinArgs, runCli, spawnDaemon } from '../helpers/processes.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const finished = (job: JobView): boolean => isFinal(job.state)

/** POSTs raw bytes to a daemon's socket; answers the status and the parsed error body. */
function postRaw(
  proc: DaemonProcess,
  path: string,
  body: Buffer,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: dataDirPaths(proc.dataDir).socket,
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(Buffer.concat(chunks).toString() || '{}'),
          }),
        )
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

describe('jobs on three daemon processes', () => {
  let a: DaemonProcess
  let b: DaemonProcess
  let c: DaemonProcess
  let scratch: string
  const pidsToKill: number[] = []

  beforeAll(async () => {
    scratch = await makeTempDir('shoal-jobs-')
    // No Docker engine here: the exec driver only (the docker driver has its own suite).
    const common = ['--docker-socket', '/nonexistent/docker.sock']
    a = await spawnDaemon({ name: 'alpha', args: [...common, '--label', 'host=alpha'] })
    const join = [...common, ...joinArgs(a)]
    ;[b, c] = await Promise.all([
      spawnDaemon({ name: 'beta', args: [...join, '--label', 'host=beta'] }),
      spawnDaemon({ name: 'gamma', args: [...join, '--label', 'host=gamma'] }),
    ])
    await waitFor('a coordinator and three alive nodes', async () => {
      const status = await createClient(a.dataDir).get<StatusView>('/v1/status')
      const coordinator = await createClient(a.dataDir).get<{ status: string }>('/v1/coordinator')
      return status.nodes.alive === 2 && coordinator.status === 'held'
    })
  })
  afterAll(async () => {
    for (const pid of pidsToKill) if (processAlive(pid)) process.kill(pid, 'SIGKILL')
    await cleanupDaemons()
    await removeDir(scratch)
  })

  it('runs an exec job on the node its constraint names, and any node reads its log', async () => {
    const id = await submitJob(
      a,
      '--name',
      'hello',
      '--constraint',
      'host=beta',
      '--env',
      'GREETING=hi there',
      '--exec',
      '--',
      'sh',
      '-c',
      'echo "$GREETING from $SHOAL_JOB_ID attempt $SHOAL_ATTEMPT in $(pwd)"; echo oops >&2',
    )
    expect(id).toMatch(/^j[0-9a-f]{16}$/)
    const job = await waitForJob(c, id, 'to succeed', (view) => view.state === 'succeeded')
    expect(job).toMatchObject({ name: 'hello', nodeName: 'beta', attempt: 1, exitCode: 0, reason: null })
    expect(job.node).toBe(b.status.peerId)
    for (const field of ['createdAt', 'startedAt', 'finishedAt'] as const)
      expect(Date.parse(job[field]!)).not.toBeNaN()
    const logs = await runCli(['job', 'logs', id, '--data-dir', c.dataDir])
    expect(logs.code, logs.stderr).toBe(0)
    expect(logs.stdout).toBe(
      `hi there from ${id} attempt 1 in ${join(b.dataDir, 'jobs', id, 'work')}\noops\n`,
    )
  })

  it('runs a dependency chain in order', async () => {
    const file = join(scratch, 'chain.txt')
    const step = (n: number): string[] => ['--exec', '--', 'sh', '-c', `sleep 0.3; echo ${n} >> ${file}`]
    const first = await submitJob(a, ...step(1))
    const second = await submitJob(b, '--after', first, ...step(2))
    const third = await submitJob(c, '--after', second, ...step(3))
    const wait = await runCli([
      'job',
      'wait',
      first,
      second,
      third,
      '--data-dir',
      a.dataDir,
      '--timeout',
      '60s',
    ])
    expect(wait.code, wait.stdout + wait.stderr).toBe(0)
    expect(await readFile(file, 'utf8')).toBe('1\n2\n3\n')
    const [j1, j2, j3] = await Promise.all([first, second, third].map((id) => showJob(a, id)))
    expect(Date.parse(j2!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(j1!.finishedAt!))
    expect(Date.parse(j3!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(j2!.finishedAt!))
  })

  it('fails the dependents of a failed job with the reason', async () => {
    const parent = await submitJob(a, '--exec', '--', 'sh', '-c', 'exit 4')
    const child = await submitJob(a, '--after', parent, '--exec', '--', 'true')
    const grandchild = await submitJob(a, '--after', child, '--exec', '--', 'true')
    const wait = await runCli(['job', 'wait', grandchild, '--data-dir', b.dataDir])
    expect(wait.code).toBe(1)
    expect((await showJob(b, child)).reason).toBe(`dependency ${parent} failed`)
    expect(await showJob(b, grandchild)).toMatchObject({
      state: 'failed',
      reason: `dependency ${child} failed`,
    })
  })

  it('retries a failing job with backoff, then fails it with the reason', async () => {
    const id = await submitJob(
      a,
      '--retries',
      '2',
      '--backoff',
      '100ms',
      '--exec',
      '--',
      'sh',
      '-c',
      'exit 3',
    )
    const job = await waitForJob(a, id, 'to fail for good', finished)
    expect(job).toMatchObject({ state: 'failed', attempt: 3, exitCode: 3 })
    expect(job.reason).toBe('exited with code 3; 2 retries used up')
    const wait = await runCli(['job', 'wait', id, '--data-dir', a.dataDir])
    expect(wait.code).toBe(1)
    expect(wait.stderr).toContain('SHOAL_JOBS_UNSUCCESSFUL')
    // Every attempt left its own log on the node that ran it.
    for (const attempt of [1, 2, 3]) {
      const logs = await runCli(['job', 'logs', id, '--attempt', String(attempt), '--data-dir', c.dataDir])
      expect(logs.code, logs.stderr).toBe(0)
    }
  })

  it('succeeds on a retry when a later attempt works', async () => {
    const counter = join(scratch, 'attempts')
    const script = `echo x >> ${counter}; [ "$SHOAL_ATTEMPT" -ge 3 ]`
    const id = await submitJob(b, '--retries', '5', '--backoff', '50ms', '--exec', '--', 'sh', '-c', script)
    const job = await waitForJob(b, id, 'to succeed', finished)
    expect(job).toMatchObject({ state: 'succeeded', attempt: 3, exitCode: 0 })
    expect((await readFile(counter, 'utf8')).split('\n').filter(Boolean)).toHaveLength(3)
  })

  it('enforces a timeout by stopping the process', async () => {
    const pidFile = join(scratch, 'timeout.pid')
    const id = await submitJob(
      a,
      '--timeout',
      '1s',
      '--exec',
      '--',
      'sh',
      '-c',
      `echo $$ > ${pidFile}; exec sleep 60`,
    )
    const job = await waitForJob(a, id, 'to time out', finished)
    expect(job).toMatchObject({ state: 'timed-out', reason: 'ran longer than its 1000 ms timeout' })
    const pid = Number(await readFile(pidFile, 'utf8'))
    pidsToKill.push(pid)
    expect(processAlive(pid)).toBe(false)
  })

  it('cancels a running job from another node and stops its process', async () => {
    const pidFile = join(scratch, 'cancel.pid')
    const id = await submitJob(a, '--exec', '--', 'sh', '-c', `echo $$ > ${pidFile}; exec sleep 60`)
    await waitForJob(a, id, 'to run', (job) => job.state === 'running')
    const pid = Number(
      await waitFor('the job to write its pid', () => readFile(pidFile, 'utf8').catch(() => undefined)),
    )
    pidsToKill.push(pid)
    expect(processAlive(pid)).toBe(true)
    const cancel = await runCli(['job', 'cancel', id, '--data-dir', c.dataDir])
    expect(cancel.code, cancel.stderr).toBe(0)
    const job = await waitForJob(c, id, 'to be cancelled', finished)
    expect(job).toMatchObject({ state: 'cancelled', reason: 'cancelled while running' })
    expect(processAlive(pid)).toBe(false)
    // A finished job cannot be cancelled again, but it can be run again.
    const again = await runCli(['job', 'cancel', id, '--data-dir', c.dataDir])
    expect(again.stderr).toContain('SHOAL_JOB_FINISHED')
    const retry = await runCli(['job', 'retry', id, '--data-dir', b.dataDir])
    expect(retry.code, retry.stderr).toBe(0)
    await waitForJob(b, id, 'to run again', (view) => view.state === 'running' && view.attempt === 2)
    await runCli(['job', 'cancel', id, '--data-dir', b.dataDir])
    await waitForJob(b, id, 'to be cancelled again', finished)
  })

  it('yields the same job for a repeated submission id, from any node', async () => {
    const first = await submitJob(a, '--submission-id', 'nightly-2026-11-23', '--exec', '--', 'true')
    const second = await submitJob(
      c,
      '--submission-id',
      'nightly-2026-11-23',
      '--exec',
      '--',
      'echo',
      'different',
    )
    expect(second).toBe(first)
    await waitForJob(b, first, 'to succeed', (job) => job.state === 'succeeded')
    const same = (await listJobs(b)).filter((job) => job.submissionId === 'nightly-2026-11-23')
    expect(same).toHaveLength(1)
    expect(same[0]!.command).toEqual(['true'])
  })

  it('runs 1,000 jobs submitted at once across the three nodes', async () => {
    const file = join(scratch, 'thousand.json')
    const specs = Array.from({ length: 1000 }, (_, i) => ({
      driver: 'exec',
      command: ['true'],
      tags: { batch: 'k1', n: String(i) },
    }))
    await writeFile(file, JSON.stringify(specs))
    const submit = await runCli(['job', 'submit', '-f', file, '--data-dir', b.dataDir])
    expect(submit.code, submit.stderr).toBe(0)
    const ids = submit.stdout.trim().split('\n')
    expect(new Set(ids).size).toBe(1000)
    const wait = await createClient(c.dataDir).post<{ jobs: JobView[]; timedOut: boolean }>('/v1/jobs/wait', {
      ids,
      timeoutMs: 120_000,
    })
    expect(wait.timedOut).toBe(false)
    expect(wait.jobs.filter((job) => job.state === 'succeeded')).toHaveLength(1000)
    const perNode = new Map<string, number>()
    for (const job of wait.jobs) perNode.set(job.nodeName!, (perNode.get(job.nodeName!) ?? 0) + 1)
    expect([...perNode.keys()].sort()).toEqual(['alpha', 'beta', 'gamma'])
    // Another node's view: the last reports may still be a gossip hop away when the waiting node saw them all.
    const listed = await waitFor('alpha to list all 1,000 succeeded', async () => {
      const list = await createClient(a.dataDir).get<JobList>(
        '/v1/jobs?tag=batch=k1&state=succeeded&limit=10',
      )
      return list.total === 1000 ? list : undefined
    })
    expect(listed.total).toBe(1000)
    expect(listed.jobs).toHaveLength(10)
    // Counts per state cover the query but for its state filter: every state is listed, these all succeeded.
    expect(listed.counts).toEqual({
      pending: 0,
      assigned: 0,
      running: 0,
      succeeded: 1000,
      failed: 0,
      'timed-out': 0,
      cancelled: 0,
    })
    const pendingOnly = await createClient(a.dataDir).get<JobList>('/v1/jobs?tag=batch=k1&state=pending')
    expect(pendingOnly.total).toBe(0)
    expect(pendingOnly.counts.succeeded).toBe(1000)
  }, 180_000)

  it('refuses bad input with clear codes and writes nothing of a bad batch', async () => {
    const before = (await listJobs(a)).length
    const cli = async (...args: string[]): Promise<string> => {
      const result = await runCli(['--data-dir', a.dataDir, ...args])
      expect(result.code, `${args.join(' ')} should fail`).not.toBe(0)
      return result.stderr
    }
    const file = join(scratch, 'bad.json')
    await writeFile(
      file,
      JSON.stringify([
        { driver: 'exec', command: ['true'] },
        { driver: 'lxc', command: ['true'] },
      ]),
    )
    expect(await cli('job', 'submit', '-f', file)).toMatch(
      /job 1 at driver: driver must be "exec" or "docker" \[SHOAL_INVALID_JOB\]/,
    )
    await writeFile(
      file,
      JSON.stringify([
        { driver: 'exec', command: ['true'], submissionId: 'cy-a', after: ['cy-b'] },
        { driver: 'exec', command: ['true'], submissionId: 'cy-b', after: ['cy-a'] },
      ]),
    )
    expect(await cli('job', 'submit', '-f', file)).toContain('[SHOAL_JOB_CYCLE]')
    expect(await cli('job', 'submit', '--timeout', 'soon', '--exec', '--', 'true')).toContain(
      '[SHOAL_INVALID_JOB]',
    )
    expect(await cli('job', 'submit', '--mem', 'lots', '--exec', '--', 'true')).toContain(
      '[SHOAL_INVALID_JOB]',
    )
    expect(await cli('job', 'submit', '--cpu', 'two', '--exec', '--', 'true')).toContain(
      '[SHOAL_INVALID_FLAG]',
    )
    expect(await cli('job', 'submit', '--', 'true')).toContain('[SHOAL_INVALID_FLAG]')
    expect(await cli('job', 'submit', '--image', 'busy box', '--', 'true')).toContain('[SHOAL_INVALID_JOB]')
    expect(await cli('job', 'submit', '--after', 'j0000000000000000', '--exec', '--', 'true')).toContain(
      '[SHOAL_INVALID_JOB]',
    )
    for (const verb of ['show', 'cancel', 'retry', 'logs']) {
      expect(await cli('job', verb, 'j0123456789abcdef')).toContain('[SHOAL_JOB_NOT_FOUND]')
    }
    // `wait` gives an id it does not know yet a while to arrive (it may have just been submitted elsewhere).
    expect(await cli('job', 'wait', 'j0123456789abcdef', '--timeout', '1s')).toContain(
      '[SHOAL_JOB_NOT_FOUND]',
    )
    expect(await cli('job', 'wait', 'nonsense')).toContain('[SHOAL_JOB_NOT_FOUND]')
    expect(await cli('job', 'list', '--state', 'sleeping')).toContain('[SHOAL_INVALID_FLAG]')
    await expect(createClient(a.dataDir).get('/v1/jobs?state=running,sleeping')).rejects.toMatchObject({
      code: 'SHOAL_BAD_REQUEST',
    })
    await expect(createClient(a.dataDir).get('/v1/jobs?tag=no-equals-sign')).rejects.toMatchObject({
      code: 'SHOAL_BAD_REQUEST',
      message: 'tag expects key=value, got "no-equals-sign"',
    })
    // A spec too big for a record, and a body far past the limit (read no further than the limit).
    const bigEnv = { driver: 'exec', command: ['true'], env: { BIG: 'x'.repeat(100_000) } }
    const big = await postRaw(a, '/v1/jobs', Buffer.from(JSON.stringify(bigEnv)))
    expect(big).toMatchObject({ status: 413, json: { error: { code: 'SHOAL_JOB_TOO_LARGE' } } })
    const huge = await postRaw(a, '/v1/jobs', Buffer.alloc(100 * 1024 * 1024, 0x20))
    expect(huge).toMatchObject({ status: 413, json: { error: { code: 'SHOAL_RECORD_TOO_LARGE' } } })
    expect(await postRaw(a, '/v1/jobs', Buffer.from('{"driver":'))).toMatchObject({
      status: 400,
      json: { error: { code: 'SHOAL_BAD_REQUEST' } },
    })
    expect((await listJobs(a)).length).toBe(before)
    // A job no node can run waits with the reason, rather than vanishing.
    const docker = await submitJob(a, '--image', 'busybox', '--', 'true')
    const waiting = await waitForJob(a, docker, 'to say why it waits', (job) => job.reason !== null)
    expect(waiting).toMatchObject({
      state: 'pending',
      reason: expect.stringMatching(/^no live node runs the docker driver/),
    })
    const gpu = await submitJob(a, '--gpu', '1', '--exec', '--', 'true')
    expect((await waitForJob(a, gpu, 'to say why it waits', (job) => job.reason !== null)).reason).toMatch(
      /^no live node is large enough/,
    )
    await runCli(['job', 'cancel', docker, gpu, '--data-dir', a.dataDir])
    await waitForJob(a, gpu, 'to be cancelled', (job) => job.state === 'cancelled')
  })

  it('takes 10,000 jobs in one call and stays responsive', async () => {
    const file = join(scratch, 'ten-thousand.json')
    const specs = Array.from({ length: 10_000 }, (_, i) => ({
      driver: 'exec',
      command: ['true'],
      constraints: { host: 'nowhere' },
      tags: { batch: 'k10', n: String(i) },
    }))
    await writeFile(file, JSON.stringify(specs))
    const client = createClient(c.dataDir)
    let answered = 0
    const submitting = runCli(['job', 'submit', '-f', file, '--data-dir', c.dataDir])
    let done = false
    void submitting.then(() => {
      done = true
    })
    while (!done) {
      await client.get<StatusView>('/v1/status')
      answered++
    }
    const result = await submitting
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.trim().split('\n')).toHaveLength(10_000)
    expect(answered).toBeGreaterThan(0)
    // Every node holds all 10,000, each waiting with the reason.
    for (const proc of [a, b, c]) {
      await waitFor(
        `${proc.name} to hold the 10,000 jobs`,
        async () => {
          const list = await createClient(proc.dataDir).get<{ total: number }>(
            '/v1/jobs?tag=batch=k10&state=pending&limit=1',
          )
          return list.total === 10_000
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      )
    }
    const sample = await showJob(b, result.stdout.trim().split('\n')[9_999]!)
    await waitFor(
      'the reason to reach the last job',
      async () => (await showJob(b, sample.id)).reason !== null,
      { timeoutMs: 30_000 },
    )
    expect((await showJob(b, sample.id)).reason).toMatch(
      /^no live node with host=nowhere runs the exec driver/,
    )
  }, 180_000)
})
