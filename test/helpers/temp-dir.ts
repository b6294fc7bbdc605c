// Temporary directories that tests create and always remove.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Short paths, because a data directory holds a unix socket (108-byte limit). */
export async function makeTempDir(prefix = 'shoal-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}
