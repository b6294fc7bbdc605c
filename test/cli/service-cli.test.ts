// `shoal service …` against two daemon processes, every action asked of the node that runs no instance.
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from '../../cli/client.js'
import type { ServiceView, SlotVars } from '../../src/api/types.js'
import {
  cleanupDaemons,
  cliJson,
  type DaemonProcess,
  joinArgs,
  runCli,
  spawnDaemon,
} from '../helpers/processes.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const exec = promisify(execFile)

/** One error line in the CLI's style, no stack. */
function expectOneErrorLine(stderr: string, code: string): void {
  const lines = stderr.trim().split('\n')
  expect(lines, stderr).toHaveLength(1)
  expect(lines[0]).toMatch(new RegExp(`^shoal: .+ \\[${code}\\]$`))
}

/** Processes of this file's services (their sleeps have durations nothing else uses). */
async function instanceProcesses(): Promise<string[]> {
  const { stdout } = await exec('ps', ['-eo', 'pid=,args='])
  return stdout.split('\n').filter((line) => /\bsleep 30(17|18|19)\b/.test(line))
}

/** The pinned service's command: says it started, then runs until stopped. */
const COMMAND = ['sh', '-c', 'echo started on $(hostname) with vars in $SHOAL_VARS; exec sleep 3017']

describe('shoal service, from a node that runs no instance', () => {
  let alpha: DaemonProcess
  let beta: DaemonProcess
  let dir: string
  /** Services this file added: removed before the daemons go, so that no instance outlives the test. */
  const added = new Set<string>()

  /** `shoal service <verb> --data-dir <alpha's> <rest>`: before the rest, which may end in `-- CMD…`. */
  const cli = (...args: string[]) =>
    runCli([...args.slice(0, 2), '--data-dir', alpha.dataDir, ...args.slice(2)])
  const service = (name: string) =>
    createClient(alpha.dataDir).get<ServiceView>(`/v1/services/${encodeURIComponent(name)}`)
  /** Waits, asking alpha over its socket, until the service is as `ok` says. */
  const waitForService = (what: string, name: string, ok: (view: ServiceView) => boolean) =>
    waitFor(
      `${name}: ${what}`,
      async () => {
        const view = await service(name)
        return ok(view) ? view : undefined
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    )

  beforeAll(async () => {
    dir = await makeTempDir()
    alpha = await spawnDaemon({ name: 'alpha' })
    beta = await spawnDaemon({ name: 'beta', args: [...joinArgs(alpha), '--label', 'role=runner'] })
    await waitFor('alpha to see beta with its label', async () => {
      const nodes = await cliJson<Array<{ name: string; state: string; labels: Record<string, string> }>>(
        alpha.dataDir,
        'node',
        'list',
      )
      return nodes.some(
        (node) => node.name === 'beta' && node.state === 'alive' && node.labels.role === 'runner',
      )
    })
  })
  afterAll(async () => {
    for (const name of added) await runCli(['service', 'remove', name, '--data-dir', alpha.dataDir])
    await cleanupDaemons()
    await removeDir(dir)
  })

  it('adds a service pinned to the other node and shows it running there', async () => {
    const result = await cli(
      'service',
      'add',
      'web',
      '--exec',
      '--constraint',
      'role=runner',
      '--env',
      'GREETING=hello',
      '--var',
      'count=0',
      '--var',
      'greeting=hi',
      '--var',
      'tags=["a","b"]',
      '--cpu',
      '0.05',
      '--json',
      '--',
      ...COMMAND,
    )
    expect(result.code, result.stderr).toBe(0)
    added.add('web')
    const view = JSON.parse(result.stdout) as ServiceView
    expect(view).toMatchObject({
      name: 'web',
      driver: 'exec',
      image: null,
      git: null,
      command: COMMAND,
      env: { GREETING: 'hello' },
      constraints: { role: 'runner' },
      replicas: 1,
      desired: 'running',
      initialVars: { count: 0, greeting: 'hi', tags: ['a', 'b'] },
    })
    expect(view.resources.cpu).toBe(0.05)

    const running = await waitForService(
      'running on beta',
      'web',
      (v) => v.ready === 1 && v.instances[0]?.nodeName === 'beta' && v.instances[0].state === 'running',
    )
    expect(running.instances[0]!.node).toBe(beta.status.peerId)
    expect(running.appliedGeneration).toBe(running.generation)
    // One process runs it (the shell has exec'd into its sleep), on beta: this machine runs both daemons.
    await waitFor('one process of the instance', async () => (await instanceProcesses()).length === 1)

    const status = await cli('service', 'status', 'web')
    expect(status.code, status.stderr).toBe(0)
    expect(status.stdout).toMatch(/^ready\s+1\/1$/m)
    expect(status.stdout).toMatch(/^0\s+beta\s+running\s/m)
    expect(status.stdout).toContain('{"count":0,"greeting":"hi","tags":["a","b"]}')
  })

  it('lists services as a table, as names (-q) and as JSON', async () => {
    const table = await cli('service', 'list')
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/^NAME\s+DESIRED\s+READY\s+GENERATION\s+DRIVER\s+SOURCE$/m)
    expect(table.stdout).toMatch(/^web\s+running\s+1\/1\s+\d+\/\d+\s+exec\s+exec$/m)
    const quiet = await cli('service', 'list', '-q')
    expect(quiet.stdout).toBe('web\n')
    const list = await cliJson<ServiceView[]>(alpha.dataDir, 'service', 'list')
    expect(list.map((v) => v.name)).toEqual(['web'])
    expect(Object.keys(list[0]!).sort()).toEqual(
      [
        'name',
        'driver',
        'image',
        'git',
        'command',
        'env',
        'resources',
        'constraints',
        'health',
        'replicas',
        'desired',
        'generation',
        'appliedGeneration',
        'ready',
        'commit',
        'commitError',
        'initialVars',
        'createdAt',
        'updatedAt',
        'instances',
      ].sort(),
    )
  })

  it('status --json is the service with its variables; vars --json the variables per slot', async () => {
    const status = await cliJson<ServiceView & { vars: SlotVars[] }>(alpha.dataDir, 'service', 'status', 'we')
    expect(status.name).toBe('web')
    expect(status.instances).toHaveLength(1)
    expect(status.instances[0]).toMatchObject({
      slot: 0,
      nodeName: 'beta',
      state: 'running',
      restarts: expect.any(Number),
      health: 'none',
      cpu: expect.any(Number),
      memory: expect.any(Number),
      disk: expect.any(Number),
    })
    expect(status.vars).toEqual([
      expect.objectContaining({ slot: 0, values: { count: 0, greeting: 'hi', tags: ['a', 'b'] } }),
    ])
    const vars = await cliJson<SlotVars[]>(alpha.dataDir, 'service', 'vars', 'web')
    expect(vars.map((slot) => [slot.slot, slot.values])).toEqual([
      [0, { count: 0, greeting: 'hi', tags: ['a', 'b'] }],
    ])
  })

  it("prints an instance's output from the node that runs it", async () => {
    const logs = await waitFor('the instance to have written its first line', async () => {
      const result = await cli('service', 'logs', 'web', '--instance', '0')
      return result.code === 0 && result.stdout.includes('started on') ? result : undefined
    })
    expect(logs.stdout).toContain('with vars in /')
  })

  it('stops, starts, restarts, scales, updates and resets it, by name or prefix', async () => {
    const before = await service('web')

    const stopped = await cli('service', 'stop', 'we', '--json')
    expect(stopped.code, stopped.stderr).toBe(0)
    expect((JSON.parse(stopped.stdout) as ServiceView).desired).toBe('stopped')
    await waitForService('stopped', 'web', (v) => v.ready === 0 && v.instances[0]?.state === 'stopped')

    const started = await cli('service', 'start', 'web')
    expect(started.code, started.stderr).toBe(0)
    expect(started.stdout).toMatch(/^web: started \(running,/)
    await waitForService('running again', 'web', (v) => v.ready === 1)

    const restarted = await cliJson<ServiceView>(alpha.dataDir, 'service', 'restart', 'web')
    expect(restarted.generation).toBeGreaterThan(before.generation)
    await waitForService(
      'restarted onto the new generation',
      'web',
      (v) => v.ready === 1 && v.appliedGeneration === restarted.generation,
    )

    const scaled = await cliJson<ServiceView>(alpha.dataDir, 'service', 'scale', 'web', '2')
    expect(scaled.replicas).toBe(2)
    await waitForService(
      'two instances running on beta',
      'web',
      (v) => v.ready === 2 && v.instances.every((instance) => instance.nodeName === 'beta'),
    )
    const vars = await cliJson<SlotVars[]>(alpha.dataDir, 'service', 'vars', 'web')
    expect(vars.map((slot) => slot.slot)).toEqual([0, 1])

    const updated = await cli(
      'service',
      'update',
      'web',
      '--exec',
      '--constraint',
      'role=runner',
      '--replicas',
      '2',
      '--var',
      'count=10',
      '--json',
      '--',
      'sh',
      '-c',
      'echo updated; exec sleep 3018',
    )
    expect(updated.code, updated.stderr).toBe(0)
    const next = JSON.parse(updated.stdout) as ServiceView
    expect(next.command).toEqual(['sh', '-c', 'echo updated; exec sleep 3018'])
    expect(next.generation).toBeGreaterThan(restarted.generation)
    expect(next.initialVars).toEqual({ count: 10 })
    await waitForService(
      'every instance on the updated generation',
      'web',
      (v) => v.ready === 2 && v.instances.every((instance) => instance.generation === next.generation),
    )

    const reset = await cli('service', 'reset', 'web')
    expect(reset.code, reset.stderr).toBe(0)
    expect(reset.stdout).toMatch(/^web: variables reset/)
    const afterReset = await cliJson<SlotVars[]>(alpha.dataDir, 'service', 'vars', 'web')
    expect(afterReset.map((slot) => slot.values)).toEqual([{ count: 10 }, { count: 10 }])
  })

  it('turns every spec flag into the spec, and update replaces it whole', async () => {
    const git = await cli(
      'service',
      'add',
      'flags',
      '--git',
      'https://git.example.com/team/app.git',
      '--ref',
      'main',
      '--sync-interval',
      '30s',
      '--replicas',
      '0',
      '--memory',
      '64M',
      '--disk',
      '1G',
      '--gpu',
      '0',
      '--health-cmd',
      'test -f ready',
      '--health-interval',
      '2s',
      '--health-timeout',
      '1s',
      '--health-retries',
      '5',
      '--no-spread',
      '--var',
      'name=plain text',
      '--json',
      '--',
      './run.sh',
      '--port',
      '8080',
    )
    expect(git.code, git.stderr).toBe(0)
    added.add('flags')
    expect(JSON.parse(git.stdout)).toMatchObject({
      name: 'flags',
      driver: 'exec',
      git: { url: 'https://git.example.com/team/app.git', ref: 'main', syncIntervalMs: 30_000 },
      command: ['./run.sh', '--port', '8080'],
      replicas: 0,
      resources: { memory: 64 * 1024 ** 2, disk: 1024 ** 3, gpu: 0 },
      health: { command: ['sh', '-c', 'test -f ready'], intervalMs: 2_000, timeoutMs: 1_000, retries: 5 },
      initialVars: { name: 'plain text' },
      instances: [],
    })
    // The new spec is the flags given now: no git, an image, and replicas kept as they were.
    const updated = await cliJson<ServiceView>(
      alpha.dataDir,
      'service',
      'update',
      'fla',
      '--image',
      'registry.example.com/team/app:v2',
    )
    expect(updated).toMatchObject({
      name: 'flags',
      driver: 'docker',
      image: 'registry.example.com/team/app:v2',
      git: null,
      command: [],
      health: null,
      replicas: 0,
      initialVars: {},
    })
    const removed = await cli('service', 'remove', 'flags')
    expect(removed.stdout).toBe('removed flags\n')
    added.delete('flags')
  })

  it('refuses bad input with a clear error and its code, writing nothing', async () => {
    const cases: Array<[string[], number, string]> = [
      [['service', 'status', 'nope'], 1, 'SHOAL_SERVICE_NOT_FOUND'],
      [['service', 'stop', 'nope'], 1, 'SHOAL_SERVICE_NOT_FOUND'],
      [['service', 'vars', 'nope'], 1, 'SHOAL_SERVICE_NOT_FOUND'],
      [['service', 'remove', 'nope'], 1, 'SHOAL_SERVICE_NOT_FOUND'],
      [['service', 'logs', 'nope'], 1, 'SHOAL_SERVICE_NOT_FOUND'],
      [['service', 'add', 'web', '--exec', '--', 'true'], 1, 'SHOAL_SERVICE_EXISTS'],
      [['service', 'scale', 'web', '-1'], 2, 'SHOAL_INVALID_SERVICE'],
      [['service', 'scale', 'web', 'many'], 2, 'SHOAL_INVALID_SERVICE'],
      [['service', 'add', 'other', '--exec', '--replicas', '-1', '--', 'true'], 2, 'SHOAL_INVALID_SERVICE'],
      [['service', 'add', 'Other', '--exec', '--', 'true'], 2, 'SHOAL_INVALID_SERVICE'],
      [['service', 'add', 'other', '--', 'true'], 2, 'SHOAL_INVALID_FLAG'],
      [
        [
          'service',
          'add',
          'other',
          '--exec',
          '--health-interval',
          'often',
          '--health-cmd',
          'true',
          '--',
          'true',
        ],
        2,
        'SHOAL_INVALID_SERVICE',
      ],
      [['service', 'logs', 'web', '--instance', 'first'], 2, 'SHOAL_INVALID_FLAG'],
    ]
    for (const [args, exit, code] of cases) {
      const result = await cli(...args)
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(exit)
      expectOneErrorLine(result.stderr, code)
    }
    const names = await cliJson<ServiceView[]>(alpha.dataDir, 'service', 'list')
    expect(names.map((v) => v.name)).toEqual(['web'])
    expect(names[0]!.replicas).toBe(2)
  })

  it('refuses a spec file that is not YAML, naming its line, and sends nothing', async () => {
    const file = join(dir, 'broken.yaml')
    await writeFile(
      file,
      ['services:', '  - name: broken', '    command: [sleep, 1', '    replicas: 2'].join('\n'),
    )
    const result = await cli('service', 'add', '-f', file)
    expect(result.code).toBe(2)
    expectOneErrorLine(result.stderr, 'SHOAL_INVALID_SERVICE')
    expect(result.stderr).toContain(`${file}:`)
    const list = await cliJson<ServiceView[]>(alpha.dataDir, 'service', 'list')
    expect(list.map((v) => v.name)).toEqual(['web'])
  })

  it('adds every service of a file at once, or none when one of them is wrong', async () => {
    const bad = join(dir, 'one-bad.yaml')
    await writeFile(
      bad,
      [
        '- name: fine',
        '  command: [sleep, "300"]',
        '  constraints: { role: runner }',
        '- name: wrong',
        '  command: [sleep, "300"]',
        '  replicas: -1',
      ].join('\n'),
    )
    const refused = await cli('service', 'add', '-f', bad)
    expect(refused.code).toBe(2)
    expectOneErrorLine(refused.stderr, 'SHOAL_INVALID_SERVICE')
    expect((await cliJson<ServiceView[]>(alpha.dataDir, 'service', 'list')).map((v) => v.name)).toEqual([
      'web',
    ])

    const good = join(dir, 'two.yaml')
    await writeFile(
      good,
      [
        'services:',
        '  - name: api',
        '    command: sleep 3019',
        '    constraints: { role: runner }',
        '    vars: { cursor: 7 }',
        '  - name: worker',
        '    driver: exec',
        '    command: [sleep, "300"]',
        '    replicas: 0',
      ].join('\n'),
    )
    const result = await cli('service', 'add', '-f', good, '--json')
    expect(result.code, result.stderr).toBe(0)
    for (const name of ['api', 'worker']) added.add(name)
    const views = JSON.parse(result.stdout) as ServiceView[]
    expect(views.map((v) => [v.name, v.replicas, v.command])).toEqual([
      ['api', 1, ['sh', '-c', 'sleep 3019']],
      ['worker', 0, ['sleep', '300']],
    ])
    expect(views[0]!.initialVars).toEqual({ cursor: 7 })
    const list = await cliJson<ServiceView[]>(alpha.dataDir, 'service', 'list')
    expect(list.map((v) => v.name).sort()).toEqual(['api', 'web', 'worker'])

    // A file with several services cannot update one.
    const update = await cli('service', 'update', 'api', '-f', good)
    expect(update.code).toBe(2)
    expectOneErrorLine(update.stderr, 'SHOAL_INVALID_SERVICE')
  })

  it('removes services: their instances stop and they are gone everywhere', async () => {
    for (const name of ['api', 'worker', 'web']) {
      const result = await cli('service', 'remove', name, '--json')
      expect(result.code, result.stderr).toBe(0)
      expect(JSON.parse(result.stdout)).toEqual({ name, removed: true })
      added.delete(name)
    }
    await waitFor('beta to forget them', async () => {
      const result = await runCli(['service', 'list', '-q', '--data-dir', beta.dataDir])
      return result.code === 0 && result.stdout === ''
    })
    await waitFor('their processes on beta to end', async () => (await instanceProcesses()).length === 0, {
      timeoutMs: 30_000,
      intervalMs: 200,
    })
    const after = await runCli(['service', 'status', 'web', '--data-dir', beta.dataDir])
    expect(after.code).toBe(1)
    expectOneErrorLine(after.stderr, 'SHOAL_SERVICE_NOT_FOUND')
    const empty = await cli('service', 'list')
    expect(empty.stdout).toMatch(/^no services yet: shoal service add/)
  })
})
