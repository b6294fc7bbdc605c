// The CLI as an operator lives with it: exit codes, one error style, a config file, job verbs, listings, completion.
import { execFile, spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JobView, StatusView } from '../../src/api/types.js'
import {
  CLI,
  cleanupDaemons,
  cliJson,
  type DaemonProcess,
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

describe('the CLI with no daemon', () => {
  let dir: string
  beforeAll(async () => {
    dir = await makeTempDir()
  })
  afterAll(async () => removeDir(dir))

  it.each([[['job', 'lsit']], [['job', 'list', '--bogus']], [['node', 'show']], [['completion', 'fish']]])(
    'exits 2 with SHOAL_USAGE on a wrong command line %j',
    async (args) => {
      const result = await runCli([...args, '--data-dir', join(dir, 'none')])
      expect(result.code).toBe(2)
      expectOneErrorLine(result.stderr, 'SHOAL_USAGE')
    },
  )

  it.each([
    [['job', 'submit', '--timeout', 'soon', '--exec', 'true'], 'SHOAL_INVALID_JOB'],
    [['job', 'submit', '--mem', 'lots', '--exec', 'true'], 'SHOAL_INVALID_JOB'],
    [['job', 'submit', '--cpu', 'two', '--exec', 'true'], 'SHOAL_INVALID_FLAG'],
    [['job', 'list', '--state', 'sleeping'], 'SHOAL_INVALID_FLAG'],
    [['job', 'list', '--limit', 'ten'], 'SHOAL_INVALID_FLAG'],
    [['service', 'add', 'web', '--exec', '--replicas', '-1', '--', 'true'], 'SHOAL_INVALID_SERVICE'],
    [['service', 'add', 'Web', '--exec', '--', 'true'], 'SHOAL_INVALID_SERVICE'],
    [['service', 'add', 'web', '--', 'true'], 'SHOAL_INVALID_FLAG'],
    [['service', 'scale', 'web', '-1'], 'SHOAL_INVALID_SERVICE'],
  ])('says what is wrong with %j itself (exit 2), not that no daemon runs', async (args, code) => {
    const result = await runCli([...args.slice(0, 2), '--data-dir', join(dir, 'none'), ...args.slice(2)])
    expect(result.code).toBe(2)
    expectOneErrorLine(result.stderr, code)
  })

  it('exits 3 when the command line is right but no daemon answers', async () => {
    const result = await runCli(['job', 'submit', '--data-dir', join(dir, 'none'), '--exec', 'true'])
    expect(result.code).toBe(3)
    expectOneErrorLine(result.stderr, 'SHOAL_DAEMON_UNREACHABLE')
  })

  it('shows --data-dir in the help of every command', async () => {
    for (const args of [
      ['status'],
      ['job', 'submit'],
      ['job', 'logs'],
      ['service', 'add'],
      ['service', 'scale'],
      ['node', 'list'],
      ['daemon'],
      ['web'],
    ]) {
      const help = await runCli([...args, '--help'])
      expect(help.code, args.join(' ')).toBe(0)
      expect(help.stdout, args.join(' ')).toContain('--data-dir <dir>')
    }
  })

  it('prints bash and zsh completion that the shell accepts and that knows the commands', async () => {
    const bash = await runCli(['completion', 'bash'])
    expect(bash.code).toBe(0)
    expect(bash.stdout).toContain('"job submit") words="')
    expect(bash.stdout).toContain('--follow')
    const file = join(dir, 'completion.bash')
    await writeFile(file, bash.stdout)
    await exec('bash', ['-n', file])
    // Completing "shoal job s" offers submit and show.
    const { stdout } = await exec('bash', [
      '-c',
      `source ${file}; COMP_WORDS=(shoal job s); COMP_CWORD=2; _shoal; echo "\${COMPREPLY[@]}"`,
    ])
    expect(stdout.trim().split(' ').sort()).toEqual(['show', 'submit'])
    expect(bash.stdout).toContain('"service add") words="')
    expect(bash.stdout).toMatch(/"service update"\) words="[^"]*--health-cmd/)
    const zsh = await runCli(['completion', 'zsh'])
    expect(zsh.stdout).toMatch(/^#compdef shoal/)
  })

  it('install-service writes a systemd unit running this installation with the data dir and config given', async () => {
    const unitDir = join(dir, 'units')
    const result = await runCli([
      'install-service',
      '--unit-dir',
      unitDir,
      '--config',
      '/etc/shoal/shoal.yaml',
      '--user',
      'shoal',
    ])
    expect(result.code, result.stderr).toBe(0)
    const unit = await readFile(join(unitDir, 'shoal.service'), 'utf8')
    expect(unit).toMatch(/^ExecStart=\S+node \S+\/dist\/shoal\.js daemon --data-dir \/var\/lib\/shoal /m)
    expect(unit).toContain('--config /etc/shoal/shoal.yaml')
    expect(unit).toContain('User=shoal')
    expect(unit).toContain('StateDirectory=shoal')
    expect(unit).toContain('KillSignal=SIGTERM')
    const bad = await runCli(['install-service', '--print', '--user', 'Robert; rm'])
    expect(bad.code).toBe(2)
    expectOneErrorLine(bad.stderr, 'SHOAL_INVALID_FLAG')
  })
})

describe('a daemon started from a config file, and the job verbs', () => {
  let dir: string
  let daemon: DaemonProcess
  beforeAll(async () => {
    dir = await makeTempDir()
    const config = join(dir, 'shoal.yaml')
    await writeFile(
      config,
      [
        '# every kind of key: a value, a list, a map of labels, a switch, a negated switch',
        'name: from-file',
        'label: { zone: a, tier: web }',
        'job-retention: 2h',
        'log-level: debug',
        'coordinator: true',
        'mirror-pull: false',
        'log-format: json',
      ].join('\n'),
    )
    // --name on the command line wins over the file's.
    daemon = await spawnDaemon({ name: 'from-flag', args: ['--config', config] })
  })
  afterAll(async () => {
    await cleanupDaemons()
    await removeDir(dir)
  })

  it('takes its keys from the file and its flags over them', async () => {
    const status = await cliJson<StatusView>(daemon.dataDir, 'status')
    expect(status.name).toBe('from-flag')
    const nodes = await cliJson<Array<{ labels: Record<string, string> }>>(daemon.dataDir, 'node', 'list')
    expect(nodes[0]!.labels).toEqual({ zone: 'a', tier: 'web' })
  })

  it('refuses an unknown key or a wrong value naming the file and line (exit 2)', async () => {
    const bad = join(dir, 'bad.yaml')
    for (const [text, expected] of [
      ['name: x\nlisten-on: /ip4/0.0.0.0/tcp/1\n', /bad\.yaml:2: unknown key "listen-on"/],
      ['name: x\nmdns: sometimes\n', /bad\.yaml:2: "mdns" is true or false/],
      ['- just\n- a list\n', /bad\.yaml:1: expected keys/],
      ['name: [unclosed\n', /bad\.yaml:\d+: not YAML/],
    ] as const) {
      await writeFile(bad, text)
      const result = await runCli(['daemon', '--data-dir', join(dir, 'never'), '--config', bad])
      expect(result.code, text).toBe(2)
      expectOneErrorLine(result.stderr, 'SHOAL_INVALID_FLAG')
      expect(result.stderr).toMatch(expected)
    }
  })

  it('has a config key for every daemon flag', async () => {
    const help = (await runCli(['daemon', '--help'])).stdout
    const flags = [...help.matchAll(/--(?:no-)?([a-z][a-z-]+)/g)].map((match) => match[1]!)
    const keys = new Set(flags.filter((flag) => flag !== 'config' && flag !== 'help'))
    expect(keys.size).toBeGreaterThan(20)
    const bad = join(dir, 'keys.yaml')
    await writeFile(bad, 'no-such-key: 1\n')
    const result = await runCli(['daemon', '--data-dir', join(dir, 'never'), '--config', bad])
    const listed = new Set(
      /keys are the daemon's flags without "--": ([^)]+)\)/.exec(result.stderr)![1]!.split(', '),
    )
    expect([...keys].filter((key) => !listed.has(key))).toEqual([])
  })

  it('writes JSON log lines when its output is not a terminal, readable lines with --log-format pretty', async () => {
    const lines = (await readFile(daemon.logFile, 'utf8')).trim().split('\n')
    expect(() => JSON.parse(lines[0]!)).not.toThrow()
    const pretty = await spawnDaemon({ name: 'pretty', args: ['--log-format', 'pretty'] })
    const first = (await readFile(pretty.logFile, 'utf8')).split('\n')[0]!
    expect(first).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO/)
  })

  it('runs a command with its own flags and no --, follows it and exits with its code', async () => {
    const listed = await runCli([
      'job',
      'submit',
      '--data-dir',
      daemon.dataDir,
      '--wait',
      '--exec',
      'ls',
      '-a',
      '/',
    ])
    expect(listed.code, listed.stderr).toBe(0)
    const id = listed.stdout.trim().split('\n')[0]!
    const logs = await runCli(['job', 'logs', id, '--data-dir', daemon.dataDir])
    expect(logs.stdout.split('\n')).toContain('..')

    const followed = await runCli([
      'job',
      'submit',
      '--data-dir',
      daemon.dataDir,
      '--follow',
      '--exec',
      'sh',
      '-c',
      'echo working; exit 7',
    ])
    expect(followed.stdout).toBe('working\n')
    expect(followed.code).toBe(7)
    expect(followed.stderr).toMatch(/^j[0-9a-f]{16}\nshoal: job j[0-9a-f]{16} failed/)
  })

  it('pages job lists by default, filters by name and several states, and prints ids with -q', async () => {
    const specs = Array.from({ length: 55 }, (_, i) => ({
      driver: 'exec',
      command: ['true'],
      name: `batch-${i}`,
    }))
    const file = join(dir, 'many.json')
    await writeFile(file, JSON.stringify(specs))
    const submitted = await runCli(['job', 'submit', '-f', file, '--wait', '--data-dir', daemon.dataDir])
    expect(submitted.code, submitted.stderr).toBe(0)

    const page = await runCli(['job', 'list', '--data-dir', daemon.dataDir])
    expect(page.stdout).toContain('(50 of 57 shown: --limit N or --all for more)')
    const all = await runCli(['job', 'list', '--all', '-q', '--data-dir', daemon.dataDir])
    expect(all.stdout.trim().split('\n')).toHaveLength(57)
    expect(
      all.stdout
        .trim()
        .split('\n')
        .every((line) => /^j[0-9a-f]{16}$/.test(line)),
    ).toBe(true)
    const named = await cliJson<JobView[]>(daemon.dataDir, 'job', 'list', '--name', 'batch-1', '--all')
    expect(named.map((job) => job.name).sort()).toEqual(
      ['batch-1', ...Array.from({ length: 10 }, (_, i) => `batch-1${i}`)].sort(),
    )
    const failedOrSucceeded = await cliJson<JobView[]>(
      daemon.dataDir,
      'job',
      'list',
      '--state',
      'failed,succeeded',
      '--all',
    )
    expect(failedOrSucceeded).toHaveLength(57)
    expect(failedOrSucceeded.filter((job) => job.state === 'failed')).toHaveLength(1)
    const nodes = await runCli(['node', 'list', '-q', '--data-dir', daemon.dataDir])
    expect(nodes.stdout.trim()).toBe(daemon.status.peerId)
  })

  it('shows a progress bar while waiting on a terminal, and only the outcome elsewhere', async () => {
    const submitted = await runCli(['job', 'submit', '--data-dir', daemon.dataDir, '--exec', 'sleep', '2'])
    const id = submitted.stdout.trim()
    // script(1) gives the CLI a pseudo-terminal, as an operator's shell would.
    const command = [process.execPath, CLI, 'job', 'wait', id, '--data-dir', daemon.dataDir].join(' ')
    const { stdout } = await exec('script', ['-qec', command, '/dev/null'], { timeout: 30_000 })
    expect(stdout).toMatch(/waiting \[[█░]+\] 0\/1 finished/)
    expect(stdout).toMatch(/1\/1 finished \(1 succeeded\)/)
    expect(stdout).toContain(`${id} succeeded exit 0`)
    const plain = await runCli(['job', 'wait', id, '--data-dir', daemon.dataDir])
    expect(plain.stdout).toBe(`${id} succeeded exit 0\n`)
    expect(plain.stderr).toBe('')
  })

  it('prints a watched listing again until stopped', async () => {
    const child = spawn(process.execPath, [CLI, 'node', 'list', '-w', '-q', '--data-dir', daemon.dataDir])
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    await waitFor('two rounds of the listing', () => output.split(daemon.status.peerId).length > 2, {
      timeoutMs: 15_000,
    })
    const exited = new Promise((done) => child.once('exit', done))
    child.kill('SIGINT')
    await exited
    expect(output.startsWith(`${daemon.status.peerId}\n\n${daemon.status.peerId}\n`)).toBe(true)
  })
})

describe('SIGHUP', () => {
  let dir: string
  afterAll(async () => {
    await cleanupDaemons()
    await removeDir(dir)
  })

  it('reloads labels, log level and the drivers policy from the config file, and keeps a bad file out', async () => {
    dir = await makeTempDir()
    const config = join(dir, 'shoal.yaml')
    await writeFile(config, 'label: { zone: a }\nlog-level: info\ndrivers: docker\n')
    const daemon = await spawnDaemon({ name: 'hup', args: ['--config', config], bothDrivers: false })
    const self = async () =>
      (
        await cliJson<Array<{ labels: Record<string, string>; drivers: { exec: boolean } }>>(
          daemon.dataDir,
          'node',
          'list',
        )
      )[0]!
    expect(await self()).toMatchObject({ labels: { zone: 'a' }, drivers: { exec: false } })
    const refused = await runCli(['job', 'submit', '--data-dir', daemon.dataDir, '--exec', 'true'])
    const waiting = await waitFor('the exec job to wait with a reason', async () => {
      const job = await cliJson<JobView>(daemon.dataDir, 'job', 'show', refused.stdout.trim())
      return job.reason === null ? undefined : job
    })
    expect(waiting.reason).toContain('start daemons with --drivers docker,exec')

    await writeFile(
      config,
      'label: { zone: b, tier: web }\nlog-level: debug\ndrivers: docker,exec\nstore-max: 10G\n',
    )
    process.kill(daemon.pid, 'SIGHUP')
    await waitFor('the node record to show the reloaded labels and drivers', async () => {
      const node = await self()
      return node.labels.zone === 'b' && node.drivers.exec ? node : undefined
    })
    expect((await self()).labels).toEqual({ zone: 'b', tier: 'web' })
    const log = await readFile(daemon.logFile, 'utf8')
    expect(log).toMatch(
      /"msg":"reloaded: log level debug, drivers policy, labels; changes to layers take a restart"/,
    )
    // The waiting exec job runs now that this node runs exec.
    await waitFor('the exec job to succeed', async () => {
      const job = await cliJson<JobView>(daemon.dataDir, 'job', 'show', refused.stdout.trim())
      return job.state === 'succeeded' ? true : undefined
    })

    await writeFile(config, 'label: { zone: c }\nbogus: 1\n')
    process.kill(daemon.pid, 'SIGHUP')
    await waitFor('the refusal in the log', async () =>
      (await readFile(daemon.logFile, 'utf8')).includes('reload refused') ? true : undefined,
    )
    expect((await self()).labels).toEqual({ zone: 'b', tier: 'web' })
    // Still running, still answering.
    expect((await cliJson<StatusView>(daemon.dataDir, 'status')).name).toBe('hup')
  })
})
