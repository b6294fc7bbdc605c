import { describe, expect, it } from 'vitest'
import { jobIdFor } from '../../src/jobs/spec.js'
import { prepareSubmission } from '../../src/jobs/submit.js'

const PEER = '12D3KooWLWomxqdiAuZKSQBNYfhJoC8JSERe31aJ6BWat5M9QUVx'
const context = (known: string[] = []) => ({
  now: 1,
  submittedBy: PEER,
  exists: (id: string) => known.includes(id),
})
const exec = (extra: Record<string, unknown> = {}) => ({ driver: 'exec', command: ['true'], ...extra })

describe('submissions', () => {
  it('maps a submission id to the same job id every time, and writes a known job again never', async () => {
    const id = jobIdFor('nightly')
    expect(jobIdFor('nightly')).toBe(id)
    expect(jobIdFor('weekly')).not.toBe(id)
    const first = await prepareSubmission(
      [exec({ submissionId: 'nightly' }), exec({ submissionId: 'nightly' })],
      context(),
    )
    expect(first.ids).toEqual([id, id])
    expect(first.fresh).toHaveLength(1)
    expect((await prepareSubmission([exec({ submissionId: 'nightly' })], context([id]))).fresh).toEqual([])
  })

  it('resolves after by job id or submission id, within the batch or among known jobs', async () => {
    const known = jobIdFor('build')
    const batch = await prepareSubmission(
      [
        exec({ submissionId: 'test', after: ['build'] }),
        exec({ submissionId: 'deploy', after: ['test', known] }),
      ],
      context([known]),
    )
    expect(batch.fresh[0]!.after).toEqual([known])
    expect(batch.fresh[1]!.after).toEqual([jobIdFor('test'), known])
  })

  it('refuses cycles, including long chains and self-dependency, without overflowing the stack', async () => {
    await expect(prepareSubmission([exec({ submissionId: 'a', after: ['a'] })], context())).rejects.toThrow(
      /cycle: .* → /,
    )
    const chain = Array.from({ length: 20_000 }, (_, i) =>
      exec({ submissionId: `s${i}`, after: [`s${(i + 1) % 20_000}`] }),
    )
    await expect(prepareSubmission(chain, context())).rejects.toThrow(
      expect.objectContaining({ code: 'SHOAL_JOB_CYCLE' }),
    )
    const line = Array.from({ length: 20_000 }, (_, i) =>
      exec({ submissionId: `l${i}`, after: i === 0 ? [] : [`l${i - 1}`] }),
    )
    expect((await prepareSubmission(line, context())).fresh).toHaveLength(20_000)
  })

  it('validates everything before anything is written', async () => {
    const bad = (specs: unknown[]) => expect(prepareSubmission(specs, context())).rejects
    await bad([]).toThrow(expect.objectContaining({ code: 'SHOAL_INVALID_JOB' }))
    await bad([exec(), { driver: 'exec', command: [] }]).toThrow('job 1: the exec driver needs a command')
    await bad([{ driver: 'docker', command: [] }]).toThrow('job: the docker driver needs an image')
    await bad([exec({ retries: 2, restart: 'never' })]).toThrow(/retries need restart/)
    await bad([exec({ timeout: '-1s' })]).toThrow(expect.objectContaining({ code: 'SHOAL_INVALID_JOB' }))
    await bad([exec({ resources: { memory: '12 parsecs' } })]).toThrow(
      expect.objectContaining({
        code: 'SHOAL_INVALID_JOB',
        message: expect.stringMatching(/^job: resources.memory expects a size like 512M/),
      }),
    )
    await bad([exec(), exec({ timeout: 'soon' })]).toThrow(
      expect.objectContaining({
        code: 'SHOAL_INVALID_JOB',
        message: expect.stringMatching(/^job 1: timeout expects a duration like 30s/),
      }),
    )
    await bad([exec({ env: { 'NOT-A-NAME': 'x' } })]).toThrow(/job at env.NOT-A-NAME/)
    // The kernel ends a process's strings at NUL: a command, variable or workdir holding one is refused.
    for (const nul of [{ command: ['echo', 'a\0b'] }, { env: { X: 'a\0b' } }, { workdir: 'a\0b' }]) {
      await bad([exec(nul)]).toThrow(
        expect.objectContaining({ code: 'SHOAL_INVALID_JOB', message: expect.stringMatching(/NUL/) }),
      )
    }
    const docker = (network: string) => ({ driver: 'docker', image: 'busybox:1', network })
    for (const network of ['host; rm -rf /', 'container:', '../x', '']) {
      await bad([docker(network)]).toThrow(expect.objectContaining({ code: 'SHOAL_INVALID_JOB' }))
    }
    await bad([exec({ surprise: true })]).toThrow(expect.objectContaining({ code: 'SHOAL_INVALID_JOB' }))
    await bad(Array.from({ length: 100_001 }, () => exec())).toThrow(
      expect.objectContaining({ code: 'SHOAL_TOO_MANY_JOBS' }),
    )
  })

  it('fills defaults users expect', async () => {
    const [spec] = (
      await prepareSubmission(
        [exec({ retries: 2, timeout: '30s', resources: { cpu: 0.5, memory: '512M' } })],
        context(),
      )
    ).fresh
    expect(spec).toMatchObject({
      name: 'true',
      restart: 'on-failure',
      timeoutMs: 30_000,
      backoffMs: 1_000,
      resources: { cpuMillis: 500, memory: 512 * 1024 ** 2, disk: 0, gpu: 0 },
      priority: 0,
    })
  })
})
