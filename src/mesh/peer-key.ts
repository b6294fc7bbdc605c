// The node's Ed25519 identity: created once (mode 0600) so the peer id stays the same across restarts.
import { readFile } from 'node:fs/promises'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { PeerKeyInvalidError } from '../errors.js'
import { createFileAtomically } from '../util/atomic-file.js'

export const PEER_KEY_FILE = 'peer.key'

export async function loadOrCreatePeerKey(path: string): Promise<PrivateKey> {
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new PeerKeyInvalidError(`cannot read peer key ${path}: ${(err as Error).message}`, { cause: err })
    }
  }
  if (bytes === undefined) {
    const key = await generateKeyPair('Ed25519')
    try {
      // Whole or not at all: a key file cut short by a crash (or a full disk) would stop every later start.
      await createFileAtomically(path, privateKeyToProtobuf(key))
    } catch (err) {
      // Another process created it meanwhile: that key is the node's identity, not ours.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreatePeerKey(path)
      throw err
    }
    return key
  }
  let key: PrivateKey
  try {
    key = privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new PeerKeyInvalidError(`${path} is not a libp2p private key`, { cause: err })
  }
  if (key.type !== 'Ed25519')
    throw new PeerKeyInvalidError(`${path} holds a ${key.type} key; shoal needs Ed25519`)
  return key
}
