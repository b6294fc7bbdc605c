// The package as users install it: `npm pack`, then `npm install -g` of the tarball into a fresh prefix, then run it.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from '../../cli/client.js'
import type { StatusView } from '../../src/api/types.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const exec = promisify(execFile)
const ROOT = resolve(import.meta.dirname, '../..')
const NPM_QUIET = ['--no-audit', '--no-fund', '--loglevel=error']

describe('the packed package installed with npm install -g', () => {
  let dir: string
  let shoal: string
  let daemon: ChildProcess | undefined

  beforeAll(async () => {
    dir = await makeTempDir('shoal-pack-')
    // npm test has just built dist/: pack it as is (prepack would rebuild it under the other tests' feet).
    const { stdout } = await exec(
      'npm',
      ['pack', '--ignore-scripts', '--pack-destination', dir, ...NPM_QUIET],
      {
        cwd: ROOT,
      },
    )
    const tarball = join(dir, stdout.trim().split('\n').at(-1)!)
    // Dependencies come from npm's cache, which `npm ci` filled: nothing new is downloaded.
    await exec(
      'npm',
      ['install', '-g', '--prefix', join(dir, 'prefix'), '--prefer-offline', ...NPM_QUIET, tarball],
      {
        cwd: dir,
        timeout: 180_000,
      },
    )
    shoal = join(dir, 'prefix', 'bin', 'shoal')
  }, 240_000)

  afterAll(async () => {
    if (daemon?.exitCode === null) {
      const exited = new Promise((done) => daemon!.once('exit', done))
      daemon.kill('SIGTERM')
      await exited
    }
    await removeDir(dir)
  })

  it('holds the built CLI and daemon, the unit and the docs, and no sources or tests', async () => {
    const installed = join(dir, 'prefix', 'lib', 'node_modules', 'shoal')
    for (const file of ['dist/shoal.js', 'dist/web/index.html', 'packaging/shoal.service', 'README.md']) {
      expect(existsSync(join(installed, file)), file).toBe(true)
    }
    for (const absent of [
      'src',
      'test',
      'cli',
      'web/src',
      'node_modules/vitest',
      'node_modules/typescript',
    ]) {
      expect(existsSync(join(installed, absent)), absent).toBe(false)
    }
  })

  it('prints its version and runs a daemon that its own CLI talks to', async () => {
    const { stdout } = await exec(shoal, ['--version'])
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default
    expect(stdout.trim()).toBe(version)

    const dataDir = join(dir, 'data')
    daemon = spawn(
      shoal,
      [
        'daemon',
        '--data-dir',
        dataDir,
        '--no-mdns',
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--blob-port',
        '0',
        '--http-port',
        '0',
      ],
      { stdio: 'ignore' },
    )
    const status = await waitFor(
      'the installed daemon to answer',
      () =>
        createClient(dataDir)
          .get<StatusView>('/v1/status')
          .catch(() => undefined),
      { timeoutMs: 60_000 },
    )
    expect(status.version).toBe(version)
    const cli = await exec(shoal, ['status', '--json', '--data-dir', dataDir])
    expect((JSON.parse(cli.stdout) as StatusView).peerId).toBe(status.peerId)
  })
})
