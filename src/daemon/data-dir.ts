// Where a daemon keeps its data, and the files in it. Light enough for the CLI to import.
import { chmod, chown, stat } from 'node:fs/promises'
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
 * Makes the data directory its owner's only (0700). It holds the peer key, the swarm key, registry credentials.
 * With a socket group (`--socket-group`) the directory is that group's to pass through (0710: no listing, no
 * reading; its members reach the socket and nothing else the owner did not open to them). Returns the modes
 * when it took access away from someone (the caller says so), undefined otherwise.
 */
export async function restrictToOwner(
  dataDir: string,
  socketGid?: number,
): Promise<{ was: number; now: number } | undefined> {
  const wanted = socketGid === undefined ? 0o700 : 0o710
  try {
    const info = await stat(dataDir)
    if (socketGid !== undefined && info.gid !== socketGid) await chown(dataDir, -1, socketGid)
    const mode = info.mode & 0o777
    if (mode === wanted || (socketGid === undefined && (mode & 0o077) === 0)) return undefined
    await chmod(dataDir, wanted)
    return (mode & ~wanted) === 0 ? undefined : { was: mode, now: wanted }
  } catch (err) {
    throw new DataDirUnusableError(
      `cannot make data directory ${dataDir} private (mode 0${wanted.toString(8)}): ${(err as Error).message}`,
      { cause: err },
    )
  }
}

/** Unix socket paths are limited to 108 bytes on Linux (sun_path), terminator included. */
export const MAX_SOCKET_PATH_BYTES = 107
