// An attempt's directories: made as `mkdir -p` would, in two plain calls when the parent is there.
import { mkdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { makeJobDir, prepareWorkdir } from '../../src/jobs/workdir.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'

describe('job directories', () => {
  let dir: string
  beforeEach(async () => {
    dir = await makeTempDir('shoal-workdir-')
  })
  afterEach(async () => {
    await removeDir(dir)
  })

  const isDirectory = async (path: string) => (await stat(path)).isDirectory()

  it('makes a directory, its missing parents, or accepts one that is there', async () => {
    await makeJobDir(join(dir, 'a'))
    await makeJobDir(join(dir, 'b', 'c', 'd'))
    await makeJobDir(join(dir, 'a'))
    expect(await isDirectory(join(dir, 'a'))).toBe(true)
    expect(await isDirectory(join(dir, 'b', 'c', 'd'))).toBe(true)
  })

  it('refuses a path that is a file, as mkdir -p does', async () => {
    await writeFile(join(dir, 'file'), 'x')
    await expect(makeJobDir(join(dir, 'file'))).rejects.toMatchObject({ code: 'EEXIST' })
    await expect(makeJobDir(join(dir, 'file', 'below'))).rejects.toMatchObject({ code: 'ENOTDIR' })
  })

  it('gives a new job <job dir>/work, and a retry of it the same directory', async () => {
    const jobDir = join(dir, 'jobs', 'j0123456789abcdef')
    const first = await prepareWorkdir(jobDir, null)
    expect(first).toBe(join(jobDir, 'work'))
    expect(await isDirectory(first)).toBe(true)
    await writeFile(join(first, 'left-by-attempt-1'), '')
    expect(await prepareWorkdir(jobDir, null)).toBe(first)
    expect(await isDirectory(await prepareWorkdir(jobDir, 'sub/dir'))).toBe(true)
  })

  it('makes the job directory under a jobs directory that is already there', async () => {
    await mkdir(join(dir, 'jobs'))
    expect(await prepareWorkdir(join(dir, 'jobs', 'j1'), null)).toBe(join(dir, 'jobs', 'j1', 'work'))
  })
})
