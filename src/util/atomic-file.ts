// Files written whole or not at all: a temporary file beside the target, flushed to disk, then renamed (or linked) into place.
import { randomBytes } from 'node:crypto'
import { link, open, readdir, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** `.<name>.<pid>.<n>.<random>.tmp`: unique per write, so concurrent writers never share a temporary file. */
const TEMP_NAME = /^\..+\.\d+\.\d+\.[0-9a-f]{8}\.tmp$/
let tempCounter = 0

function tempPathFor(path: string): string {
  const unique = `${process.pid}.${tempCounter++}.${randomBytes(4).toString('hex')}`
  return join(dirname(path), `.${basename(path)}.${unique}.tmp`)
}

/**
 * Writes `data` to a new temporary file beside `path`, created with `mode` (so a secret is never readable by
 * others, even for a moment) and flushed to disk; removes it again if the write fails.
 */
async function writeTemp(path: string, data: string | Uint8Array, mode: number): Promise<string> {
  const temp = tempPathFor(path)
  const handle = await open(temp, 'wx', mode)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } catch (err) {
    await handle.close()
    await rm(temp, { force: true })
    throw err
  }
  await handle.close()
  return temp
}

/** Flushes a directory, so that a rename or link in it survives a crash. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Replaces `path` with `data`: readers (and a restart after a crash) see the old file or the new, never part of one. */
export async function replaceFileAtomically(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
): Promise<void> {
  const temp = await writeTemp(path, data, mode)
  try {
    await rename(temp, path)
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  }
  await syncDir(dirname(path))
}

/**
 * Creates `path` holding `data`, whole or not at all; fails with EEXIST if `path` exists (another process
 * created it first: the caller reads that one rather than overwrite it). A link, unlike a rename, never
 * replaces an existing file.
 */
export async function createFileAtomically(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
): Promise<void> {
  const temp = await writeTemp(path, data, mode)
  try {
    await link(temp, path)
  } finally {
    await rm(temp, { force: true })
  }
  await syncDir(dirname(path))
}

/**
 * Removes the temporary files of writes a killed process left in `dir` (they may hold secrets); call it only
 * while no other process writes there. Returns the names removed.
 */
export async function removeLeftoverTempFiles(dir: string): Promise<string[]> {
  const leftovers = (await readdir(dir)).filter((name) => TEMP_NAME.test(name))
  await Promise.all(leftovers.map((name) => rm(join(dir, name), { force: true })))
  return leftovers
}
