// Where a daemon keeps its data, and the files in it. Light enough for the CLI to import.
import { chmod, stat } from 'node:fs/promises'
import { join } from 'node:path'
import envPaths from 'env-paths'
import { DataDirUnusableError } from '../errors.js'

/** --data-dir, else SHOAL_DATA_DIR, else the platform's per-user data directory (~/.local/share/shoal). */
export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined && flag !== '') return flag
  const fromEnv = env.SHOAL_DATA_DIR
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  return envPaths('shoal', { suffix: '' }).data
}

/** Files a daemon keeps in its data directory. */
export function dataDirPaths(dataDir: string) {
  return {
    socket: join(dataDir, 'shoal.sock'),
    store: join(dataDir, 'state'),
    peerKey: join(dataDir, 'peer.key'),
    swarmKey: join(dataDir, 'swarm.key'),
    pid: join(dataDir, 'daemon.pid'),
    httpToken: join(dataDir, 'http.token'),
  }
}

/**
 * Makes the data directory its owner's only (0700) if it is open to group or others; returns the mode it had
 * then, or undefined if it was already private. It holds the peer key, the swarm key, registry credentials.
 */
export async function restrictToOwner(dataDir: string): Promise<number | undefined> {
  try {
    const mode = (await stat(dataDir)).mode & 0o777
    if ((mode & 0o077) === 0) return undefined
    await chmod(dataDir, 0o700)
    return mode
  } catch (err) {
    throw new DataDirUnusableError(
      `cannot make data directory ${dataDir} private (mode 0700): ${(err as Error).message}`,
      { cause: err },
    )
  }
}

/** Unix socket paths are limited to 108 bytes on Linux (sun_path), terminator included. */
export const MAX_SOCKET_PATH_BYTES = 107
