// G3: one 500 MB blob over shoal's blob channel (TLS-PSK, one stream as from one holder) versus plain HTTP from a registry, same run.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Readable } from 'node:stream'
import { blobChannelKey, fetchBlobRange } from '../src/layers/blob-channel.js'
import { type Digest, newDigester } from '../src/layers/digest.js'
import { drainInBatches } from '../src/layers/drain-batches.js'
import { BlobStore } from '../src/layers/store.js'
import { loadSwarmKey } from '../src/mesh/swarm-key.js'
import { cleanupDaemons, spawnDaemon } from '../test/helpers/processes.js'
import { startRegistry } from '../test/helpers/registry.js'
import { makeTempDir, removeDir } from '../test/helpers/temp-dir.js'
import { round, type Summary, summarize } from './stats.js'

const MIB = 1024 * 1024

export interface ThroughputResult {
  blobBytes: number
  runs: number
  /** MB/s: GET from docker-registry on loopback, hashed and written to disk. */
  http: Summary
  /** MB/s: the same blob from a shoal daemon's blob channel, as the planner takes it from one holder. */
  shoal: Summary
  /** Median over the runs of shoal ÷ HTTP, each run a pair measured back to back. */
  ratio: number
  /** The same without the disk: bytes received and hashed only (the data plane alone). */
  network: { http: Summary; shoal: Summary; ratio: number }
}

/** A blob of random bytes, streamed to a file and hashed on the way. */
async function makeBlob(path: string, bytes: number): Promise<Digest> {
  const digester = newDigester()
  const file = await open(path, 'w')
  for (let written = 0; written < bytes; written += 4 * MIB) {
    const chunk = randomBytes(Math.min(4 * MIB, bytes - written))
    digester.hash.update(chunk)
    await file.write(chunk)
  }
  await file.close()
  return digester.digest()
}

/** Receives a body as any careful client would: hashed as it arrives, written to disk in 256 KiB batches. */
async function sink(body: Readable, path: string | undefined): Promise<number> {
  const digester = newDigester()
  const file = path === undefined ? undefined : await open(path, 'w')
  let total = 0
  await drainInBatches(body, async (batch) => {
    // Hashed while the write runs, as the store's writer does.
    const written = file?.write(batch)
    digester.hash.update(batch)
    await written
    total += batch.length
  })
  await file?.close()
  return total
}

export async function layersThroughput(blobMiB = 500, runs = 3): Promise<ThroughputResult> {
  const work = await makeTempDir('shoal-g3-')
  const registry = await startRegistry()
  const bytes = blobMiB * MIB
  try {
    const source = join(work, 'blob')
    const digest = await makeBlob(source, bytes)
    // The registry gets the blob by a monolithic upload; the daemon finds it in its store at start.
    const upload = await fetch(`http://${registry.host}/v2/bench/blob/blobs/uploads/`, { method: 'POST' })
    const location = new URL(upload.headers.get('location')!, `http://${registry.host}`)
    location.searchParams.set('digest', digest)
    const { createReadStream } = await import('node:fs')
    const put = await fetch(location, {
      method: 'PUT',
      headers: { 'content-length': String(bytes) },
      body: createReadStream(source) as unknown as ReadableStream,
      duplex: 'half',
    } as RequestInit)
    if (put.status !== 201) throw new Error(`upload failed: ${put.status}`)

    const dataDir = await makeTempDir('shoal-g3-daemon-')
    await mkdir(join(dataDir, 'blobs', 'sha256'), { recursive: true })
    const { rename } = await import('node:fs/promises')
    await rename(source, join(dataDir, 'blobs', 'sha256', digest.slice('sha256:'.length)))
    const daemon = await spawnDaemon({ name: 'g3', dataDir })
    const key = blobChannelKey((await loadSwarmKey(join(dataDir, 'swarm.key'))).bytes)
    const inventory = (await (await fetch(`${daemon.status.httpUrl}/v1/layers`)).json()) as unknown[]
    if (inventory.length === 0) throw new Error('the daemon did not index the blob')
    const { blobPort: port } = (await (await fetch(`${daemon.status.httpUrl}/v1/status`)).json()) as {
      blobPort: number
    }

    const timed = async (transfer: () => Promise<void>): Promise<number> => {
      // Dirty pages of the previous transfer are written back first, not during the next one.
      execFileSync('sync')
      const started = performance.now()
      await transfer()
      return bytes / 1e6 / ((performance.now() - started) / 1000)
    }
    const httpToDisk = async (): Promise<void> => {
      const res = await fetch(`http://${registry.host}/v2/bench/blob/blobs/${digest}`)
      const got = await sink(Readable.fromWeb(res.body as never), join(work, 'http.out'))
      if (got !== bytes) throw new Error('short HTTP read')
      await rm(join(work, 'http.out'))
    }
    const shoalToDisk = async (): Promise<void> => {
      await fetchFromHolder({ host: '127.0.0.1', port }, key, digest, bytes, join(work, 'shoal-store'))
      await rm(join(work, 'shoal-store'), { recursive: true, force: true })
    }
    const httpReceived = async (): Promise<void> => {
      const res = await fetch(`http://${registry.host}/v2/bench/blob/blobs/${digest}`)
      await sink(Readable.fromWeb(res.body as never), undefined)
    }
    const shoalReceived = async (): Promise<void> => {
      const whole = await fetchBlobRange({ host: '127.0.0.1', port }, key, { digest, offset: 0 })
      await sink(whole.stream, undefined)
    }
    const disk = { http: [] as number[], shoal: [] as number[], ratios: [] as number[] }
    const net = { http: [] as number[], shoal: [] as number[], ratios: [] as number[] }
    for (let run = 0; run < runs; run++) {
      // Each run is a pair measured back to back, in alternating order, so drift in the machine's speed
      // (other tenants, the disk) falls on both sides of a ratio alike.
      for (const [into, viaHttp, viaShoal] of [
        [disk, httpToDisk, shoalToDisk],
        [net, httpReceived, shoalReceived],
      ] as const) {
        let httpRate: number
        let shoalRate: number
        if (run % 2 === 0) {
          httpRate = await timed(viaHttp)
          shoalRate = await timed(viaShoal)
        } else {
          shoalRate = await timed(viaShoal)
          httpRate = await timed(viaHttp)
        }
        into.http.push(httpRate)
        into.shoal.push(shoalRate)
        into.ratios.push(shoalRate / httpRate)
      }
    }
    await cleanupDaemons()
    await removeDir(dataDir)
    return {
      blobBytes: bytes,
      runs,
      http: summarize(disk.http),
      shoal: summarize(disk.shoal),
      ratio: round(summarize(disk.ratios).p50),
      network: {
        http: summarize(net.http),
        shoal: summarize(net.shoal),
        ratio: round(summarize(net.ratios).p50),
      },
    }
  } finally {
    await registry.stop()
    await removeDir(work)
  }
}

/** What the pull planner does with one holder: one stream into a sequential writer, hashed as it arrives. */
async function fetchFromHolder(
  target: { host: string; port: number },
  key: Buffer,
  digest: Digest,
  size: number,
  root: string,
): Promise<void> {
  const store = new BlobStore(root, 2 * size, () => new Set())
  await store.open()
  const writer = await store.beginWrite(digest, size)
  const range = await fetchBlobRange(target, key, { digest, offset: 0 })
  await drainInBatches(range.stream, (batch) => writer.write(batch))
  await writer.commit()
}
