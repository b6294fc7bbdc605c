// The spawner: children started by its helper process report their pid, exit code or signal, and why they failed.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { logCutNote } from '../../src/jobs/drivers/capped-log.js'
import { SpawnError, Spawner } from '../../src/jobs/drivers/spawner.js'
import { type HelperKind, usablePython } from '../../src/jobs/drivers/spawner-link.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

// Every helper keeps the same promises: Python's where there is a python3, Perl's where there is only a perl
// (Debian's perl-base), Node's elsewhere.
describe.each<HelperKind>(['python', 'perl', 'node'])('spawner (%s helper)', (kind) => {
  let dir: string
  const spawner = new Spawner(undefined, kind)

  beforeAll(async () => {
    dir = await makeTempDir('shoal-spawner-')
  })
  afterAll(async () => {
    await spawner.close()
    await removeDir(dir)
  })

  async function run(
    file: string,
    args: string[],
    options: { cwd?: string; env?: Record<string, string> } = {},
  ) {
    const logPath = join(dir, `out-${Math.random().toString(16).slice(2)}.log`)
    const child = await spawner.spawn({
      file,
      args,
      cwd: options.cwd ?? dir,
      env: { PATH: process.env.PATH, ...options.env },
      outputPath: logPath,
    })
    return { child, logPath }
  }

  it('runs a child in its own process group with the given environment and working directory', async () => {
    const { child, logPath } = await run(
      'sh',
      ['-c', 'echo "$GREETING $(pwd) $$ $(ps -o pgid= $$)"; exit 3'],
      {
        env: { GREETING: 'hello' },
      },
    )
    expect(child.pid).toBeGreaterThan(0)
    expect(await child.exited).toEqual({ exitCode: 3, signal: null })
    const [greeting, cwd, pid, pgid] = (await readFile(logPath, 'utf8')).trim().split(/\s+/)
    expect(greeting).toBe('hello')
    expect(cwd).toBe(dir)
    expect(Number(pid)).toBe(child.pid)
    // Detached: the child leads its own group, so a stop reaches what it started.
    expect(Number(pgid)).toBe(child.pid)
  })

  it('passes arguments and environment exactly, whatever characters they hold', async () => {
    const odd = 'two\nlines, spaces\ttab, = signs, ünïcødé, 12 $HOME'
    const { child, logPath } = await run('sh', ['-c', 'printf "%s|%s|%s" "$1" "$ODD" "$#"', 'sh', odd, ''], {
      env: { ODD: `a=b=${odd}` },
    })
    expect(await child.exited).toEqual({ exitCode: 0, signal: null })
    expect(await readFile(logPath, 'utf8')).toBe(`${odd}|a=b=${odd}|2`)
  })

  it('gives the child stdin from /dev/null, stderr in the log, and default signal dispositions', async () => {
    const { child, logPath } = await run('sh', [
      '-c',
      'readlink /proc/$$/fd/0; grep SigIgn /proc/$$/status; echo to-stderr >&2',
    ])
    expect(await child.exited).toEqual({ exitCode: 0, signal: null })
    const [stdin, ignored, stderr] = (await readFile(logPath, 'utf8')).trim().split('\n')
    expect(stdin).toBe('/dev/null')
    // The helper ignores SIGPIPE for itself; a job must not inherit that (`yes | head` would never end).
    const mask = BigInt(`0x${ignored!.split(/\s+/)[1]}`)
    expect(mask & (1n << 12n)).toBe(0n)
    expect(stderr).toBe('to-stderr')
  })

  it('finds a command on the job’s PATH, and runs a file with no #! line with /bin/sh, as execvp does', async () => {
    const bin = join(dir, `bin-${kind}`)
    await mkdir(bin)
    await writeFile(join(bin, 'greet'), 'echo "greeted $1"\nexit 5\n', { mode: 0o755 })
    const { child, logPath } = await run('greet', ['you'], { env: { PATH: `${bin}:/usr/bin:/bin` } })
    expect(await child.exited).toEqual({ exitCode: 5, signal: null })
    expect(await readFile(logPath, 'utf8')).toBe('greeted you\n')
  })

  it('reports a child killed by a signal', async () => {
    const { child } = await run('sleep', ['30'])
    process.kill(-child.pid, 'SIGTERM')
    expect(await child.exited).toEqual({ exitCode: null, signal: 'SIGTERM' })
  })

  it('rejects a command that does not exist with its error code', async () => {
    const error = await run('/nonexistent/shoal-command', []).catch((err: unknown) => err)
    expect(error).toBeInstanceOf(SpawnError)
    expect((error as SpawnError).code).toBe('ENOENT')
  })

  it('refuses text holding a NUL (the kernel would cut it there) before anything runs', async () => {
    const request = {
      file: 'true',
      args: [] as string[],
      cwd: dir,
      env: {},
      outputPath: join(dir, 'nul.log'),
    }
    for (const bad of [
      { ...request, file: 'tr\0ue' },
      { ...request, args: ['a\0b'] },
      { ...request, cwd: `${dir}\0/etc` },
      { ...request, env: { X: 'a\0b' } },
      { ...request, outputPath: `${request.outputPath}\0x` },
    ]) {
      const error = await spawner.spawn(bad).catch((err: unknown) => err)
      expect(error).toBeInstanceOf(SpawnError)
      expect((error as SpawnError).code).toBe('EINVAL')
    }
    expect(existsSync(request.outputPath)).toBe(false)
  })

  it('rejects a log file it cannot open, as such', async () => {
    const error = await spawner
      .spawn({ file: 'true', args: [], cwd: dir, env: {}, outputPath: join(dir, 'missing', 'out.log') })
      .catch((err: unknown) => err)
    expect(error).toBeInstanceOf(SpawnError)
    expect((error as SpawnError).code).toBe('ELOG')
    expect((error as SpawnError).message).toMatch(/cannot open the log file: ENOENT/)
  })

  it('rejects a working directory that does not exist', async () => {
    const error = await run('true', [], { cwd: join(dir, 'missing') }).catch((err: unknown) => err)
    expect(error).toBeInstanceOf(SpawnError)
    expect((error as SpawnError).code).toBe('ENOENT')
  })

  it('runs many children at once', async () => {
    const children = await Promise.all(
      Array.from({ length: 50 }, (_, i) => run('sh', ['-c', `exit ${i % 7}`])),
    )
    const exits = await Promise.all(children.map(({ child }) => child.exited))
    expect(exits.map((exit) => exit.exitCode)).toEqual(Array.from({ length: 50 }, (_, i) => i % 7))
    expect(new Set(children.map(({ child }) => child.pid)).size).toBe(50)
  })

  it('is not the daemon that forks: a helper process is the parent, and a new one follows a dead one', async () => {
    const { child } = await run('sleep', ['30'])
    const helperPid = await parentOf(child.pid)
    expect(helperPid).not.toBe(process.pid)
    expect(await parentOf(helperPid)).toBe(process.pid)
    const cmdline = await readFile(`/proc/${helperPid}/cmdline`, 'utf8')
    expect(cmdline).toMatch(/^shoal-job-spawner/)
    // Not its source: `ps` would show the name followed by kilobytes of blanks.
    expect(cmdline.length).toBeLessThan(200)
    process.kill(helperPid, 'SIGKILL')
    // Nothing can be known of its children any more: they count as killed (the exec driver then kills the group).
    expect(await child.exited).toEqual({ exitCode: null, signal: 'SIGKILL' })
    process.kill(-child.pid, 'SIGKILL')
    const next = await run('sh', ['-c', 'exit 4'])
    expect(await next.child.exited).toEqual({ exitCode: 4, signal: null })
  })

  it('lets an idle helper go, and starts another for the next child', async () => {
    const brief = new Spawner(100, kind)
    const request = (script: string, log: string) => ({
      file: 'sh',
      args: ['-c', script],
      cwd: dir,
      env: {},
      outputPath: join(dir, log),
    })
    try {
      const first = await brief.spawn(request('sleep 0.3', 'a.log'))
      const helperPid = await parentOf(first.pid)
      expect(helperPid).not.toBe(process.pid)
      await first.exited
      await waitFor('the idle helper to leave', () => !existsSync(`/proc/${helperPid}`))
      const second = await brief.spawn(request('exit 7', 'b.log'))
      expect(await second.exited).toEqual({ exitCode: 7, signal: null })
    } finally {
      await brief.close()
    }
  })

  it('keeps the first maxBytes of output, notes the cut, and drains the rest without blocking the child', async () => {
    const logPath = join(dir, 'capped.log')
    const child = await spawner.spawn({
      file: 'sh',
      args: ['-c', 'printf 0123456789abcdef; yes | head -c 1000000 >&2; exit 6'],
      cwd: dir,
      env: { PATH: process.env.PATH },
      outputPath: logPath,
      maxBytes: 10,
    })
    expect(await child.exited).toEqual({ exitCode: 6, signal: null })
    expect(await readFile(logPath, 'utf8')).toBe(`0123456789${logCutNote(10)}`)
  })

  it('keeps writing a child’s output to its log after the daemon leaves, until the child ends', async () => {
    const leaving = new Spawner(undefined, kind)
    const logPath = join(dir, 'after-close.log')
    await leaving.spawn({
      file: 'sh',
      args: ['-c', 'sleep 0.5; echo late'],
      cwd: dir,
      env: { PATH: process.env.PATH },
      outputPath: logPath,
    })
    // Resolves once the helper has gone: after its child ended and its output was written.
    await leaving.close()
    expect(await readFile(logPath, 'utf8')).toBe('late\n')
  })

  it('keeps writing a child’s output to its log when the daemon is killed, and leaves after the child', async () => {
    const logPath = join(dir, 'after-kill.log')
    // A stand-in daemon in its own process: starts two children, says the second's pid, and waits to be killed.
    const daemon = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', STAND_IN_DAEMON, kind, dir, logPath],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    try {
      const exited = once(daemon, 'exit').then(() => {
        throw new Error('the stand-in daemon ended before it started a child')
      })
      const [line] = (await Promise.race([
        once(createInterface({ input: daemon.stdout! }), 'line'),
        exited,
      ])) as [string]
      const childPid = Number(line)
      const helperPid = await parentOf(childPid)
      expect(await parentOf(helperPid)).toBe(daemon.pid)
      daemon.kill('SIGKILL')
      await waitFor('the helper to leave after its child', () => !existsSync(`/proc/${helperPid}`))
      expect(await readFile(logPath, 'utf8')).toBe('late\n')
    } finally {
      daemon.kill('SIGKILL')
    }
  })

  it('refuses spawns once closed', async () => {
    const closed = new Spawner(undefined, kind)
    await closed.close()
    const error = await closed
      .spawn({ file: 'true', args: [], cwd: dir, env: {}, outputPath: join(dir, 'never.log') })
      .catch((err: unknown) => err)
    expect((error as SpawnError).code).toBe('ECLOSED')
  })
})

describe('choosing the Python helper', () => {
  let dir: string
  beforeAll(async () => {
    dir = await makeTempDir('shoal-python-')
  })
  afterAll(async () => {
    await removeDir(dir)
  })

  it('takes the first python3 that can start a child as the helper does, and none when none can', async () => {
    const unable = join(dir, 'unable')
    const able = join(dir, 'able')
    await mkdir(unable)
    await mkdir(able)
    // Stands for a Python too old for posix_spawn's setsid, or one on a C library without it.
    await writeFile(join(unable, 'python3'), '#!/bin/sh\nexit 1\n', { mode: 0o755 })
    await symlink(REAL_PYTHON, join(able, 'python3'))
    expect(usablePython([join(dir, 'none'), unable, able])).toBe(join(able, 'python3'))
    expect(usablePython([unable])).toBeNull()
    expect(usablePython([join(dir, 'none')])).toBeNull()
  })
})

/** The parent pid of a process, from /proc/<pid>/stat. */
async function parentOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
}

/** The system's Python (CI installs Debian's `python3`). */
const REAL_PYTHON = '/usr/bin/python3'
const POLYFILL_SOURCE = new URL('../../src/polyfill.ts', import.meta.url).pathname
const SPAWNER_SOURCE = new URL('../../src/jobs/drivers/spawner.ts', import.meta.url).pathname

/** A daemon's part in a process of its own (`node --import tsx -e`): argv is the helper kind, a cwd and a log path. */
const STAND_IN_DAEMON = `
await import(${JSON.stringify(POLYFILL_SOURCE)})
const { Spawner } = await import(${JSON.stringify(SPAWNER_SOURCE)})
const [kind, cwd, outputPath] = process.argv.slice(1)
// The helper does not keep its daemon alive: this does, until the test kills it.
setInterval(() => undefined, 1000)
const spawner = new Spawner(undefined, kind)
// One child ends while the other still runs: the helper reports that exit to a daemon that is gone.
await spawner.spawn({
  file: 'sleep', args: ['0.3'], cwd, env: { PATH: process.env.PATH }, outputPath: outputPath + '.first',
})
const child = await spawner.spawn({
  file: 'sh', args: ['-c', 'sleep 0.8; echo late'], cwd, env: { PATH: process.env.PATH }, outputPath,
})
console.log(child.pid)
`
