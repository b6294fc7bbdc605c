// Files in the data directory: key files created whole or not at all, and a directory open to others made private at start.
import { execFile } from 'node:child_process'
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupDaemons, signalDaemon, spawnDaemon } from '../helpers/processes.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'

const run = promisify(execFile)
const CREATE_KEYS = resolve(import.meta.dirname, 'fixtures/create-keys.ts')

/** Runs the key creation in a child process; `maxFileBytes` 0 makes every write to a file fail (EFBIG). */
async function createKeys(dir: string, maxFileBytes?: number): Promise<Record<string, string>> {
  const limit = maxFileBytes === undefined ? '' : `ulimit -f ${maxFileBytes}; `
  const { stdout } = await run(
    'bash',
    ['-c', `${limit}exec "$0" --import tsx "$1" "$2"`, process.execPath, CREATE_KEYS, dir],
    {
      // tsx would write its compile cache under the limit too; the keys must be the only files written.
      env: { ...process.env, TSX_DISABLE_CACHE: '1' },
    },
  )
  return JSON.parse(stdout) as Record<string, string>
}

describe('key files', () => {
  it('are created whole or not at all: a first start that cannot write them leaves nothing, and the next one works', async () => {
    const dir = await makeTempDir('shoal-keys-')
    try {
      // A full disk (here: a file size limit of 0) at the first start.
      expect(await createKeys(dir, 0)).toEqual({ 'peer.key': 'EFBIG', 'swarm.key': 'EFBIG' })
      // No empty or partial key is left to stop every later start, and no temporary file either.
      expect(await readdir(dir)).toEqual([])
      expect(await createKeys(dir)).toEqual({ 'peer.key': 'ok', 'swarm.key': 'ok' })
      for (const name of ['peer.key', 'swarm.key']) {
        const info = await stat(join(dir, name))
        expect(info.mode & 0o777, name).toBe(0o600)
        expect(info.size, name).toBeGreaterThan(0)
      }
      // A second start reads the keys it made.
      const peerKey = await readFile(join(dir, 'peer.key'))
      expect(await createKeys(dir)).toEqual({ 'peer.key': 'ok', 'swarm.key': 'ok' })
      expect((await readFile(join(dir, 'peer.key'))).equals(peerKey)).toBe(true)
    } finally {
      await removeDir(dir)
    }
  }, 60_000)
})

describe('the data directory', () => {
  afterAll(cleanupDaemons)

  it('is made private (0700) at start when it was open to others, the log says so, and leftover temporary files go', async () => {
    const dataDir = await makeTempDir('shoal-open-')
    try {
      await chmod(dataDir, 0o755)
      // What a daemon killed mid-write of a key leaves: a temporary file holding part of a secret.
      const leftover = '.peer.key.4242.0.0123abcd.tmp'
      await writeFile(join(dataDir, leftover), 'part of a key', { mode: 0o600 })
      const daemon = await spawnDaemon({ name: 'open', dataDir })
      expect((await stat(dataDir)).mode & 0o777).toBe(0o700)
      expect(await readdir(dataDir)).not.toContain(leftover)
      const log = await readFile(daemon.logFile, 'utf8')
      expect(log).toContain('tightened the data directory to its owner only')
      expect(log).toContain('"was":"0755"')
      await signalDaemon(daemon, 'SIGTERM')
    } finally {
      await removeDir(dataDir)
    }
  })
})
