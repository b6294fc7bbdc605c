// The swarm key (libp2p private network pre-shared key): load a given one, or create one in the data directory.
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKey } from '@libp2p/pnet'
import { SwarmKeyInvalidError } from '../errors.js'
import { createFileAtomically } from '../util/atomic-file.js'

const SWARM_KEY_FORMAT = /^\/key\/swarm\/psk\/1\.0\.0\/\r?\n\/base16\/\r?\n([0-9a-fA-F]{64})\s*$/

export const SWARM_KEY_FILE = 'swarm.key'

export interface SwarmKey {
  /** The key file's bytes, as @libp2p/pnet expects them. */
  bytes: Uint8Array
  path: string
  /** True when this start created the key. */
  created: boolean
  /** Short, non-secret fingerprint (first 8 hex of SHA-256 of the key) for logs and mDNS scoping. */
  fingerprint: string
}

function fingerprintOf(hex: string): string {
  return createHash('sha256').update(hex.toLowerCase()).digest('hex').slice(0, 8)
}

/** Parses swarm key file text; throws SHOAL_SWARM_KEY_INVALID naming the file if it is not one. */
export function parseSwarmKey(text: string, path: string): { bytes: Uint8Array; fingerprint: string } {
  const match = SWARM_KEY_FORMAT.exec(text)
  if (match === null) {
    throw new SwarmKeyInvalidError(
      `${path} is not a swarm key (expected "/key/swarm/psk/1.0.0/", "/base16/" and 64 hex digits)`,
    )
  }
  const hex = match[1]!
  const canonical = `/key/swarm/psk/1.0.0/\n/base16/\n${hex.toLowerCase()}`
  return { bytes: new TextEncoder().encode(canonical), fingerprint: fingerprintOf(hex) }
}

export async function loadSwarmKey(path: string): Promise<SwarmKey> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new SwarmKeyInvalidError(`cannot read swarm key ${path}: ${(err as Error).message}`, { cause: err })
  }
  return { ...parseSwarmKey(text, path), path, created: false }
}

/** Uses `explicitPath` if given; otherwise `<dataDir>/swarm.key`, creating it (mode 0600) on first start. */
export async function loadOrCreateSwarmKey(dataDir: string, explicitPath?: string): Promise<SwarmKey> {
  if (explicitPath !== undefined) return loadSwarmKey(explicitPath)
  const path = join(dataDir, SWARM_KEY_FILE)
  const exists = await stat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false
      throw new SwarmKeyInvalidError(`cannot read swarm key ${path}: ${err.message}`, { cause: err })
    },
  )
  if (exists) return loadSwarmKey(path)
  const bytes = new Uint8Array(95)
  generateKey(bytes)
  // Whole or not at all (a key cut short would stop every later start), mode 0600 from its first byte, and
  // never over a key another process created in the meantime (that fails with EEXIST).
  await createFileAtomically(path, bytes)
  return { ...parseSwarmKey(new TextDecoder().decode(bytes), path), path, created: true }
}
