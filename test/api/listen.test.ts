import { statSync } from 'node:fs'
import { chmod, readdir, stat, writeFile } from 'node:fs/promises'
import { createServer, request, type Server } from 'node:http'
import { dirname, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { listenOwnerOnly } from '../../src/api/listen.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'

/** Answers `ok` to anything. */
function okServer(): Server {
  return createServer((_req, res) => res.end('ok'))
}

function get(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/' }, (res) => {
      let body = ''
      res.on('data', (chunk) => {
        body += chunk
      })
      res.on('end', () => resolve(body))
    })
    req.on('error', reject)
    req.end()
  })
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

describe('the API socket', () => {
  let dir: string
  let umask: number

  beforeEach(async () => {
    dir = await makeTempDir('shoal-listen-')
    // A data directory others may enter, and a umask that gives a fresh socket 0777: the worst case.
    await chmod(dir, 0o755)
    umask = process.umask(0)
  })
  afterEach(async () => {
    process.umask(umask)
    await removeDir(dir)
  })

  it('is owner-only from the moment it is bound, not only once chmod-ed', async () => {
    const server = okServer()
    const atBind: Array<{ mode: number; dirMode: number }> = []
    // Runs before listenOwnerOnly's own continuation: the socket exactly as bind left it.
    server.on('listening', () => {
      const bound = server.address() as string
      atBind.push({ mode: statSync(bound).mode & 0o777, dirMode: statSync(dirname(bound)).mode & 0o777 })
    })
    const socketPath = join(dir, 'shoal.sock')
    await listenOwnerOnly(server, socketPath)
    try {
      expect(atBind).toHaveLength(1)
      const { mode, dirMode } = atBind[0]!
      // Nobody else could connect: the socket is 0600 or sits in a directory only its owner can enter.
      expect(
        mode === 0o600 || (dirMode & 0o077) === 0,
        `socket ${mode.toString(8)} in dir ${dirMode.toString(8)}`,
      ).toBe(true)
      expect((await stat(socketPath)).mode & 0o777).toBe(0o600)
      expect(await get(socketPath)).toBe('ok')
      expect(await readdir(dir)).toEqual(['shoal.sock'])
    } finally {
      await close(server)
    }
  })

  it('with a group, is the group’s (0660) from the moment it appears at its path', async () => {
    // Root may give it any group; anyone else, one of their own.
    const gid = process.getuid?.() === 0 ? 65534 : process.getgid!()
    const socketPath = join(dir, 'shoal.sock')
    const server = okServer()
    const firstSight: Array<{ mode: number; gid: number }> = []
    // Looks once per turn of the event loop, after its I/O: a chmod begun after the rename would still be
    // under way the first time the socket is seen.
    const look = (): void => {
      const info = statSync(socketPath, { throwIfNoEntry: false })
      if (info === undefined) setImmediate(look)
      else firstSight.push({ mode: info.mode & 0o777, gid: info.gid })
    }
    setImmediate(look)
    await listenOwnerOnly(server, socketPath, gid)
    try {
      await new Promise((resolve) => setImmediate(resolve))
      expect(firstSight).toEqual([{ mode: 0o660, gid }])
      expect(await get(socketPath)).toBe('ok')
    } finally {
      await close(server)
    }
  })

  it('replaces a socket file a crashed daemon left behind', async () => {
    const socketPath = join(dir, 'shoal.sock')
    await writeFile(socketPath, 'stale')
    const server = okServer()
    await listenOwnerOnly(server, socketPath)
    try {
      expect(await get(socketPath)).toBe('ok')
      expect((await stat(socketPath)).mode & 0o777).toBe(0o600)
    } finally {
      await close(server)
    }
  })
})
