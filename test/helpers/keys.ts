// Peer identities for tests that build records or gossip by hand.
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createRecordSigner, type RecordSigner } from '../../src/state/signer.js'

export interface TestIdentity {
  peerId: string
  privateKey: PrivateKey
  signer: RecordSigner
}

export async function newIdentity(): Promise<TestIdentity> {
  const privateKey = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(privateKey).toString()
  return { peerId, privateKey, signer: createRecordSigner(peerId, privateKey) }
}
