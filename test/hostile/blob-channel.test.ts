// Hostile clients on a daemon's blob port: garbage, truncated and oversized requests, unknown digests, many connections.
import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import type { Readable } from 'node:stream'
import tls from 'node:tls'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { blobChannelKey, fetchBlobRange } from '../../src/layers/blob-channel.js'
import type { Digest } from '../../src/layers/index.js'
import type { BlobWriter } from '../../src/layers/store.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'

const digestOf = (bytes: Buffer): Digest => `sha256:${createHash('sha256').update(bytes).digest('hex')}`

/** Every refusal a blob channel may answer with: anything else in a header is a defect. */
const REFUSALS = [
  'SHOAL_BLOB_PROTOCOL',
  'SHOAL_BLOB_NOT_FOUND',
  'SHOAL_BLOB_RANGE_INVALID',
  'SHOAL_RELAY_ORDER',
]

/** A server that neither answers nor closes within this long is hanging (its own idle timeout is 30 s). */
const EXCHANGE_DEADLINE_MS = 15_000

interface Answer {
  /** The first line, parsed; undefined when the server closed without a word. */
  header: { ok: boolean; code?: string; size?: number; length?: number } | undefined
  /** What followed the header. */
  body: Buffer
}

function connectTls(port: number, key: Buffer): tls.TLSSocket {
  return tls.connect({
    host: '127.0.0.1',
    port,
    ciphers: 'PSK-AES128-GCM-SHA256',
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
    checkServerIdentity: () => undefined,
    pskCallback: () => ({ psk: key, identity: 'shoal' }),
  })
}

/**
 * Sends `payload` as a swarm member would (TLS with the blob key), optionally half-closes, and reads whatever
 * comes back until the server closes.
 */
function exchange(port: number, key: Buffer, payload: Buffer, halfClose: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connectTls(port, key)
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`the blob channel neither answered nor closed within ${EXCHANGE_DEADLINE_MS} ms`))
    }, EXCHANGE_DEADLINE_MS)
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    // A reset from the server is one way of closing; what matters is what it sent before.
    socket.on('error', () => undefined)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve(parseAnswer(Buffer.concat(chunks)))
    })
    socket.once('secureConnect', () => {
      socket.write(payload)
      if (halfClose) socket.end()
    })
  })
}

function parseAnswer(bytes: Buffer): Answer {
  const newline = bytes.indexOf(10)
  if (newline < 0) {
    // Nothing, or a fragment: a fragment of a header is a defect the assertions below catch.
    return {
      header: bytes.length === 0 ? undefined : { ok: false, code: `fragment ${bytes.toString()}` },
      body: bytes,
    }
  }
  return {
    header: JSON.parse(bytes.subarray(0, newline).toString('utf8')) as Answer['header'],
    body: bytes.subarray(newline + 1),
  }
}

const request = (fields: Record<string, unknown>): Buffer => Buffer.from(`${JSON.stringify(fields)}\n`)

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

describe('a blob channel under hostile clients', () => {
  let nodes: TestNode[] = []
  let port: number
  let key: Buffer
  const blob = randomBytes(300_000)
  const digest = digestOf(blob)
  /** A blob still arriving: half of it written, the rest never (its declared size is known). */
  const growing = randomBytes(200_000)
  const growingDigest = digestOf(growing)
  let growingWriter: BlobWriter

  /** A well-formed client gets exactly the bytes it asked for. */
  async function servesWellFormedClients(): Promise<void> {
    const range = await fetchBlobRange({ host: '127.0.0.1', port }, key, {
      digest,
      offset: 1_000,
      length: 50_000,
    })
    expect(range.length).toBe(50_000)
    expect((await readAll(range.stream)).equals(blob.subarray(1_000, 51_000))).toBe(true)
  }

  /** An answer is a refusal in the documented shape, or the server closed without a word; never blob bytes. */
  function expectRefusedOrClosed(answer: Answer): void {
    if (answer.header === undefined) return
    expect(answer.header.ok).toBe(false)
    expect(REFUSALS).toContain(answer.header.code)
    expect(answer.body.length).toBe(0)
  }

  beforeAll(async () => {
    const node = await startNode({ name: 'hostile-blobs' })
    nodes = [node]
    const { layers } = node.daemon
    port = layers.blobChannelPort
    key = blobChannelKey(node.daemon.swarmKey.bytes)
    const writer = await layers.store.beginWrite(digest, blob.length)
    await writer.write(blob)
    await writer.commit()
    growingWriter = await layers.store.beginWrite(growingDigest, growing.length)
    await growingWriter.write(growing.subarray(0, 100_000))
  }, 60_000)
  afterAll(async () => {
    await growingWriter?.abort()
    await destroyNodes(nodes)
  })

  it('answers garbage frames with its protocol error or closes, and serves well-formed clients after', async () => {
    const frame = fc.oneof(
      fc.uint8Array({ maxLength: 2_048 }).map((bytes) => Buffer.from(bytes)),
      fc.string({ maxLength: 300 }).map((text) => Buffer.from(`${text}\n`)),
      fc.jsonValue({ maxDepth: 3 }).map((value) => Buffer.from(`${JSON.stringify(value)}\n`)),
    )
    await fc.assert(
      fc.asyncProperty(frame, fc.boolean(), async (payload, halfClose) => {
        // A frame with no end of line is a request still to come until the client closes its side (a client
        // that just sits there is closed by the channel's idle timeout, not tested here).
        const closes = halfClose || !payload.includes(10)
        expectRefusedOrClosed(await exchange(port, key, payload, closes))
      }),
      { numRuns: 300 },
    )
    await servesWellFormedClients()
  }, 120_000)

  it('serves requests with hostile numbers only inside the blob, and refuses the rest', async () => {
    const number = fc.oneof(
      fc.integer({ min: -1_000, max: blob.length + 1_000 }),
      fc.constantFrom(0, blob.length - 1, blob.length, blob.length + 1, -1, 2 ** 31, 2 ** 32 + 1),
      fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, 2 ** 63, 1e300, -1e300),
      fc.double(),
      fc.constantFrom('0', null, true, [], {}),
    )
    const fields = fc.record(
      {
        digest: fc.constantFrom<string>(digest, digest.toUpperCase(), `${digest}x`),
        offset: number,
        length: number,
      },
      { requiredKeys: ['digest'] },
    )
    await fc.assert(
      fc.asyncProperty(fields, async (fieldsSent) => {
        const answer = await exchange(port, key, request(fieldsSent), false)
        if (answer.header?.ok !== true) return expectRefusedOrClosed(answer)
        // Served: only a whole, non-negative offset inside the blob, and exactly the bytes named.
        const offset = fieldsSent.offset ?? 0
        expect(Number.isSafeInteger(offset) && (offset as number) >= 0).toBe(true)
        const start = offset as number
        const length = fieldsSent.length as number | undefined
        const end = length === undefined ? blob.length : Math.min(blob.length, start + length)
        expect(start).toBeLessThanOrEqual(blob.length)
        expect(answer.header.size).toBe(blob.length)
        expect(answer.header.length).toBe(end - start)
        expect(answer.body.equals(blob.subarray(start, end))).toBe(true)
      }),
      { numRuns: 300 },
    )
    await servesWellFormedClients()
  }, 120_000)

  it('refuses a range that starts past the end of a blob, stored or still arriving', async () => {
    for (const [target, size] of [
      [digest, blob.length],
      [growingDigest, growing.length],
    ] as const) {
      const past = await exchange(port, key, request({ digest: target, offset: size + 1 }), false)
      expect(past.header).toMatchObject({ ok: false, code: 'SHOAL_BLOB_RANGE_INVALID' })
      expect(past.body.length).toBe(0)
      const far = await exchange(port, key, request({ digest: target, offset: 2 ** 40, length: 10 }), false)
      expect(far.header).toMatchObject({ ok: false, code: 'SHOAL_BLOB_RANGE_INVALID' })
    }
    // Numbers a file cannot have are refused as malformed before anything is looked up.
    const unsafe = await exchange(port, key, request({ digest, offset: 2 ** 60 }), false)
    expect(unsafe.header).toMatchObject({ ok: false, code: 'SHOAL_BLOB_PROTOCOL' })
    const negative = await exchange(port, key, request({ digest, offset: 0, length: -5 }), false)
    expect(negative.header).toMatchObject({ ok: false, code: 'SHOAL_BLOB_PROTOCOL' })
    // The end of a blob is a range of nothing; a length past the end stops at the end.
    expect((await exchange(port, key, request({ digest, offset: blob.length }), false)).header).toMatchObject(
      {
        ok: true,
        length: 0,
      },
    )
    const tail = await exchange(port, key, request({ digest, offset: blob.length - 10, length: 1e15 }), false)
    expect(tail.header).toMatchObject({ ok: true, length: 10 })
    expect(tail.body.equals(blob.subarray(blob.length - 10))).toBe(true)
  })

  it('answers malformed and oversized requests with its protocol error', async () => {
    const cases = [
      Buffer.from('not json\n'),
      Buffer.from('{"digest":"sha256:00","offset":0}\n'),
      request({ digest, offset: 0, extra: 'field' }),
      Buffer.from(`{"digest":"${'a'.repeat(2_000)}`),
    ]
    for (const payload of cases) {
      const answer = await exchange(port, key, payload, false)
      expect(answer.header, payload.toString().slice(0, 60)).toMatchObject({
        ok: false,
        code: 'SHOAL_BLOB_PROTOCOL',
      })
      expect(answer.body.length).toBe(0)
    }
  })

  it('closes a request cut short at any point without serving a byte', async () => {
    const whole = request({ digest, offset: 0, length: 1_000 })
    for (let cut = 0; cut < whole.length - 1; cut += 7) {
      expectRefusedOrClosed(await exchange(port, key, whole.subarray(0, cut), true))
    }
    await servesWellFormedClients()
  }, 60_000)

  it('answers requests for digests it does not hold with SHOAL_BLOB_NOT_FOUND, many at once', async () => {
    const unknown = Array.from({ length: 20 }, () => digestOf(randomBytes(16)))
    const answers = await Promise.all(
      unknown.map((other) => exchange(port, key, request({ digest: other, offset: 0 }), false)),
    )
    for (const answer of answers) {
      expect(answer.header).toMatchObject({ ok: false, code: 'SHOAL_BLOB_NOT_FOUND' })
      expect(answer.body.length).toBe(0)
    }
  })

  it('keeps serving well-formed clients while hundreds of connections idle or send non-TLS garbage', async () => {
    const idle: tls.TLSSocket[] = []
    const raw: net.Socket[] = []
    try {
      for (let i = 0; i < 200; i++) {
        const socket = connectTls(port, key)
        socket.on('error', () => undefined)
        idle.push(socket)
        const plain = net.connect(port, '127.0.0.1')
        plain.on('error', () => undefined)
        plain.on('connect', () => plain.write(randomBytes(512)))
        raw.push(plain)
      }
      await Promise.all(idle.map((socket) => new Promise((resolve) => socket.once('secureConnect', resolve))))
      await servesWellFormedClients()
    } finally {
      for (const socket of [...idle, ...raw]) socket.destroy()
    }
    await servesWellFormedClients()
  })

  it('is the channel the daemon runs: a key that is not the swarm’s gets no answer', async () => {
    const stranger = blobChannelKey(randomBytes(32))
    await expect(
      fetchBlobRange({ host: '127.0.0.1', port }, stranger, { digest, offset: 0 }),
    ).rejects.toMatchObject({
      code: 'SHOAL_BLOB_PEER_UNREACHABLE',
    })
  })
})
