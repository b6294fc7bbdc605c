// Each node's job policy: which drivers it runs (exec is opt-in), placement that honours it, refusals on the node, a clean environment, confined working dirs.
import { existsSync } from 'node:fs'
import { mkdir, readFile, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_JOB_POLICY } from '../../src/jobs/index.js'
import type { AssignValue } from '../../src/jobs/records.js'
import { jobIdFor, normaliseJob } from '../../src/jobs/spec.js'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

/** Set in the daemons' environment (in-process daemons share this process's): no job may see it. */
const SECRET_NAME = 'SHOAL_POLICY_TEST_SECRET'
const SECRET_VALUE = 'hunter2-do-not-leak'

describe('node policy', () => {
  let strict: TestNode
  let open: TestNode
  let outside: string

  beforeAll(async () => {
    process.env[SECRET_NAME] = SECRET_VALUE
    outside = await makeTempDir('shoal-policy-outside-')
    // `strict` is a daemon with the defaults: docker only, no host networking.
    strict = await startNode({ name: 'pol-strict', labels: { host: 'strict' }, policy: DEFAULT_JOB_POLICY })
    open = await startNode({ name: 'pol-open', labels: { host: 'open' }, join: strict })
  })
  afterAll(async () => {
    delete process.env[SECRET_NAME]
    await destroyNodes([strict, open])
    await removeDir(outside)
  })

  const jobsOf = () => open.daemon.jobs

  it('advertises what each node runs in its node record, as the other nodes see it', async () => {
    await agreedCoordinator([strict, open])
    expect(strict.daemon.membership.self().drivers).toEqual({ docker: false, exec: false })
    expect(open.daemon.membership.self().drivers.exec).toBe(true)
    const seen = await waitFor('the open node to see the strict one', () =>
      open.daemon.membership.nodes().find((node) => node.id === strict.daemon.peerId),
    )
    expect(seen.drivers.exec).toBe(false)
    expect(seen.hostNetwork).toBe(false)
  })

  it('places exec work only on nodes that run exec, and says why when none does', async () => {
    const jobs = jobsOf()
    const { jobs: submitted } = await jobs.submit([
      { driver: 'exec', command: ['true'], submissionId: 'pol-anywhere' },
      { driver: 'exec', command: ['true'], constraints: { host: 'strict' }, submissionId: 'pol-strict-only' },
    ])
    const [anywhere, strictOnly] = submitted.map((job) => job.id) as [string, string]
    const waited = await jobs.wait([anywhere], 30_000)
    expect(waited.jobs[0]).toMatchObject({ state: 'succeeded', node: open.daemon.peerId })
    const pending = await waitFor('the strict-only job to say why it waits', () => {
      const view = jobs.view(strictOnly)
      return view.reason === null ? undefined : view
    })
    expect(pending.state).toBe('pending')
    expect(pending.reason).toMatch(/no live node with host=strict runs the exec driver/)
    expect(pending.reason).toContain('--drivers docker,exec')
  })

  /** Assigns attempt 1 to the strict node as the coordinator, as one that ignores the policy would; returns its report. */
  async function forceOntoStrict(id: string) {
    const { node: holder, term } = await agreedCoordinator([strict, open])
    // A coordinator assigns what it holds the spec of (the runner acts on assignments of jobs it knows).
    await waitFor('the spec to reach the strict node', () => strict.daemon.jobs.book.has(id))
    // What a coordinator that ignores the policy (a stale node record, a hostile member) would write.
    const assign: AssignValue = {
      attempt: 1,
      generation: 0,
      phase: 'assigned',
      node: strict.daemon.peerId,
      outcome: null,
      reason: null,
      failures: 0,
      retryAt: null,
      at: Date.now(),
    }
    await holder.daemon.coordinator.writeAsCoordinator(
      term,
      holder.daemon.jobs.book.assignmentWrites([[id, assign]]),
    )
    return waitFor('the strict node to report the attempt', () => {
      const report = strict.daemon.jobs.book.run(id, 1)
      return report?.state === 'running' ? undefined : report
    })
  }

  it('refuses exec work assigned to a node that does not run exec, and never runs it', async () => {
    const marker = join(outside, 'ran-on-strict')
    const { jobs: submitted } = await jobsOf().submit([
      { driver: 'exec', command: ['touch', marker], constraints: { host: 'strict' } },
    ])
    const run = await forceOntoStrict(submitted[0]!.id)
    expect(run).toMatchObject({ node: strict.daemon.peerId, state: 'failed', exitCode: null })
    expect(run.reason).toMatch(/^SHOAL_JOB_REFUSED: /)
    expect(existsSync(marker)).toBe(false)
  })

  it('refuses a host-network container assigned to a node that does not allow it', async () => {
    const { jobs: submitted } = await jobsOf().submit([
      { driver: 'docker', image: 'busybox:1', network: 'host', constraints: { host: 'strict' } },
    ])
    const run = await forceOntoStrict(submitted[0]!.id)
    expect(run).toMatchObject({ state: 'failed', exitCode: null })
    // Refused by the policy before any engine is asked (this node has none: that would be SHOAL_DOCKER_UNAVAILABLE).
    expect(run.reason).toMatch(/^SHOAL_JOB_REFUSED: .*network "host"/)
  })

  it('gives an exec job only documented variables and its own env, never the daemon’s', async () => {
    const jobs = jobsOf()
    const { jobs: submitted } = await jobs.submit([
      { driver: 'exec', command: ['env'], env: { OWN: 'mine' }, constraints: { host: 'open' } },
    ])
    const id = submitted[0]!.id
    expect((await jobs.wait([id], 30_000)).jobs[0]!.state).toBe('succeeded')
    const log = await readFile(join(open.dataDir, 'jobs', id, '1.log'), 'utf8')
    const names = log
      .trim()
      .split('\n')
      .map((line) => line.slice(0, line.indexOf('=')))
    expect(log).not.toContain(SECRET_VALUE)
    expect(names.sort()).toEqual(
      ['HOME', 'OWN', 'PATH', 'SHOAL_ATTEMPT', 'SHOAL_JOB_ID', 'SHOAL_JOB_NAME'].sort(),
    )
    expect(log).toContain(`HOME=${join(open.dataDir, 'jobs', id, 'work')}\n`)
    expect(log).toContain(`SHOAL_JOB_ID=${id}\n`)
  })

  it('refuses exec working dirs outside the job’s directory at submission', async () => {
    for (const workdir of ['..', '../../peer-dir', 'a/../../b', '/etc', `${open.dataDir}/jobs`]) {
      await expect(
        jobsOf().submit([{ driver: 'exec', command: ['true'], workdir }]),
        workdir,
      ).rejects.toMatchObject({ code: 'SHOAL_INVALID_JOB' })
    }
    // Inside it is fine, and it is where the job runs.
    const { jobs: submitted } = await jobsOf().submit([
      { driver: 'exec', command: ['pwd'], workdir: 'sub/dir', constraints: { host: 'open' } },
    ])
    const id = submitted[0]!.id
    expect((await jobsOf().wait([id], 30_000)).jobs[0]!.state).toBe('succeeded')
    const log = await readFile(join(open.dataDir, 'jobs', id, '1.log'), 'utf8')
    expect(log.trim()).toBe(join(open.dataDir, 'jobs', id, 'work', 'sub', 'dir'))
  })

  it('refuses, on the running node, a working dir that escapes by a spec written past the submission checks', async () => {
    const { state } = open.daemon
    const marker = join(outside, 'escaped-by-dots')
    const spec = normaliseJob(
      { driver: 'exec', command: ['touch', 'escaped-by-dots'], constraints: { host: 'open' } },
      'job',
      { now: Date.now(), submittedBy: state.peerId },
    )
    // A member's own spec record, written directly: the relative path climbs to `outside`.
    const climb = join('..', '..', '..', '..', '..', '..', '..', '..', '..', '..', outside)
    await state.write(open.daemon.jobs.book.specWrites([{ ...spec, workdir: climb }]))
    const ended = (await jobsOf().wait([spec.id], 30_000)).jobs[0]!
    expect(ended.state).toBe('failed')
    expect(ended.reason).toMatch(/^SHOAL_JOB_REFUSED: /)
    expect(existsSync(marker)).toBe(false)
  })

  it('refuses, on the running node, a working dir that leads out through a symlink', async () => {
    const submissionId = 'pol-symlink'
    const id = jobIdFor(submissionId)
    // As an earlier attempt of the job could have left it: a link in its directory to a place outside.
    const work = join(open.dataDir, 'jobs', id, 'work')
    await mkdir(work, { recursive: true })
    await symlink(outside, join(work, 'escape'))
    const { jobs: submitted } = await jobsOf().submit([
      {
        driver: 'exec',
        command: ['touch', 'through-link'],
        workdir: 'escape/deeper',
        constraints: { host: 'open' },
        submissionId,
      },
    ])
    expect(submitted[0]!.id).toBe(id)
    const ended = (await jobsOf().wait([id], 30_000)).jobs[0]!
    expect(ended.state).toBe('failed')
    expect(ended.reason).toMatch(/^SHOAL_JOB_REFUSED: /)
    expect(existsSync(join(outside, 'deeper'))).toBe(false)
    expect(existsSync(join(outside, 'deeper', 'through-link'))).toBe(false)
  })
})
