import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadOrCreateSwarmKey, loadSwarmKey, parseSwarmKey } from '../../src/mesh/swarm-key.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'

let dir: string
beforeEach(async () => {
  dir = await makeTempDir()
})
afterEach(async () => removeDir(dir))

const HEX = 'ab'.repeat(32)

describe('swarm key', () => {
  it('is created once in the data directory, mode 0600, and reused after', async () => {
    const first = await loadOrCreateSwarmKey(dir)
    expect(first.created).toBe(true)
    expect((await stat(first.path)).mode & 0o777).toBe(0o600)
    const again = await loadOrCreateSwarmKey(dir)
    expect(again.created).toBe(false)
    expect(again.fingerprint).toBe(first.fingerprint)
  })

  it('uses a given file instead of the data directory one', async () => {
    const path = join(dir, 'given.key')
    await writeFile(path, `/key/swarm/psk/1.0.0/\n/base16/\n${HEX}\n`)
    const key = await loadOrCreateSwarmKey(dir, path)
    expect(key.path).toBe(path)
    await expect(stat(join(dir, 'swarm.key'))).rejects.toThrow()
  })

  it('reads the standard go-ipfs format, with CRLF or trailing whitespace', () => {
    expect(parseSwarmKey(`/key/swarm/psk/1.0.0/\r\n/base16/\r\n${HEX}\r\n`, 'k').fingerprint).toMatch(
      /^[0-9a-f]{8}$/,
    )
  })

  it('gives keys of different content different fingerprints', async () => {
    const a = await loadOrCreateSwarmKey(dir)
    const other = await makeTempDir()
    const b = await loadOrCreateSwarmKey(other)
    await removeDir(other)
    expect(a.fingerprint).not.toBe(b.fingerprint)
    expect(await readFile(a.path, 'utf8')).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/)
  })

  it.each([
    ['empty', ''],
    ['short', `/key/swarm/psk/1.0.0/\n/base16/\n${'ab'.repeat(10)}`],
    ['wrong header', `/key/swarm/psk/2.0.0/\n/base16/\n${HEX}`],
    ['not hex', `/key/swarm/psk/1.0.0/\n/base16/\n${'zz'.repeat(32)}`],
  ])('refuses a %s key with SHOAL_SWARM_KEY_INVALID', async (_, text) => {
    const path = join(dir, 'bad.key')
    await writeFile(path, text)
    await expect(loadSwarmKey(path)).rejects.toMatchObject({ code: 'SHOAL_SWARM_KEY_INVALID' })
  })

  it('refuses a key file it cannot read with SHOAL_SWARM_KEY_INVALID', async () => {
    await expect(loadSwarmKey(join(dir, 'missing.key'))).rejects.toMatchObject({
      code: 'SHOAL_SWARM_KEY_INVALID',
    })
  })
})
