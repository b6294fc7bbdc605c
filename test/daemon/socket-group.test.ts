// --socket-group: members of one group may use a system daemon's socket; everyone else is kept out as before.
import { execFile } from 'node:child_process'
import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupDaemons, runCli, spawnDaemon } from '../helpers/processes.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'

const exec = promisify(execFile)
/** Debian's nobody:nogroup. */
const NOBODY = 65534
const NOGROUP = 65534
/** A group nobody is not in (Debian's `daemon`). */
const OTHER_GROUP = 1

/** Asks the socket for /v1/status as uid `uid` with only group `gid`; returns the HTTP status or the error code. */
async function statusAs(socket: string, uid: number, gid: number): Promise<string> {
  const script = `require('node:http').get({ socketPath: ${JSON.stringify(socket)}, path: '/v1/status' }, (res) => console.log(res.statusCode)).on('error', (err) => console.log(err.code))`
  const { stdout } = await exec('setpriv', [
    `--reuid=${uid}`,
    `--regid=${gid}`,
    '--clear-groups',
    process.execPath,
    '-e',
    script,
  ])
  return stdout.trim()
}

// Changing a file's group and acting as another user take root, as the namespace lab does.
describe.skipIf(process.env.SHOAL_SKIP_NETNS === '1')('--socket-group', () => {
  const dirs: string[] = []
  afterAll(async () => {
    await cleanupDaemons()
    for (const dir of dirs) await removeDir(dir)
  })

  it('lets the group reach the socket (0660) through the data dir (0710), and no one else', async () => {
    const parent = await makeTempDir()
    dirs.push(parent)
    // /tmp/shoal-XXXX is 0700: the parent must let others pass, as /var/lib does.
    await exec('chmod', ['0755', parent])
    const dataDir = join(parent, 'd')
    await mkdir(dataDir, { mode: 0o700 })
    const daemon = await spawnDaemon({ name: 'grouped', dataDir, args: ['--socket-group', 'nogroup'] })
    const socket = join(dataDir, 'shoal.sock')
    const [dirInfo, socketInfo] = await Promise.all([stat(dataDir), stat(socket)])
    expect([dirInfo.mode & 0o777, dirInfo.gid]).toEqual([0o710, NOGROUP])
    expect([socketInfo.mode & 0o777, socketInfo.gid]).toEqual([0o660, NOGROUP])
    for (const file of ['peer.key', 'swarm.key'])
      expect((await stat(join(dataDir, file))).mode & 0o077).toBe(0)

    expect(await statusAs(socket, NOBODY, NOGROUP)).toBe('200')
    expect(await statusAs(socket, NOBODY, OTHER_GROUP)).toBe('EACCES')
    expect(daemon.pid).toBeGreaterThan(0)
  })

  it('without it, keeps the socket and data dir to the owner; an unknown group is refused', async () => {
    const parent = await makeTempDir()
    dirs.push(parent)
    await exec('chmod', ['0755', parent])
    const dataDir = join(parent, 'd')
    await mkdir(dataDir, { mode: 0o755 })
    await spawnDaemon({ name: 'private', dataDir })
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700)
    expect(await statusAs(join(dataDir, 'shoal.sock'), NOBODY, NOGROUP)).toBe('EACCES')

    const bad = await runCli([
      'daemon',
      '--data-dir',
      join(parent, 'x'),
      '--no-mdns',
      '--socket-group',
      'no-such-group',
    ])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/no group named "no-such-group" .*\[SHOAL_INVALID_FLAG\]/)
  })
})
