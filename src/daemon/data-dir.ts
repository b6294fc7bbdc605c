// Where a daemon keeps its data, and the files in it. Light enough for the CLI to import.
import { join } from 'node:path'
import envPaths from 'env-paths'

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

/** Unix socket paths are limited to 108 bytes on Linux (sun_path), terminator included. */
export const MAX_SOCKET_PATH_BYTES = 107
