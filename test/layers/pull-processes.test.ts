import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from '../../cli/client.js'
import type { ImageView, LayerView, PullResult } from '../../src/api/types.js'
import {
  cleanupDaemons,
  cliJson,
  type DaemonProcess,
  joinArgs,
  runCli,
  spawnDaemon,
} from '../helpers/processes.js'
import {
  type CountedOrigin,
  type CountingProxy,
  startCountedOrigin,
  type TestImage,
} from '../helpers/registry.js'
import { sleep, waitFor } from '../helpers/wait.js'

const BIG_LAYER = 24_000_000

describe('pulls between daemon processes, with failures', () => {
  let origin: CountedOrigin
  let proxy: CountingProxy
  let image: TestImage
  let procs: DaemonProcess[] = []
  let founder: DaemonProcess
  let ref: string
  let big: string

  beforeAll(async () => {
    origin = await startCountedOrigin('team/slow', 'v1', [BIG_LAYER])
    ;({ proxy, image, ref } = origin)
    big = image.layers[1]!.digest
    const first = await spawnDaemon({ name: 'd0' })
    // Its data directory (with the swarm key) stays even if it is killed below.
    founder = first
    const join = joinArgs(first)
    procs = [first, ...(await Promise.all([1, 2].map((i) => spawnDaemon({ name: `d${i}`, args: join }))))]
    await waitFor('three inventories everywhere', async () => {
      const layers = await Promise.all(
        procs.map((p) => createClient(p.dataDir).get<LayerView[]>('/v1/layers?all=1')),
      )
      const nodes = await Promise.all(procs.map((p) => createClient(p.dataDir).get<unknown[]>('/v1/nodes')))
      return layers.every(Array.isArray) && nodes.every((list) => list.length === 3)
    })
  }, 120_000)
  afterAll(async () => {
    await cleanupDaemons()
    await origin?.stop()
  })

  it('the claimant killed mid-download is replaced, and the pull completes', async () => {
    // ~3 MB/s from the origin: the big layer takes seconds, time enough to kill its fetcher.
    proxy.throttle(3_000_000)
    const [claimant, follower] = procs as [DaemonProcess, DaemonProcess]
    const first = runCli(['image', 'pull', ref, '--json', '--data-dir', claimant.dataDir])
    await waitFor('the claimant to start fetching the big layer', () => (proxy.blobGets.get(big) ?? 0) >= 1)
    const second = runCli(['image', 'pull', ref, '--json', '--data-dir', follower.dataDir])
    await sleep(1_000)
    process.kill(claimant.pid, 'SIGKILL')
    await claimant.exited
    procs = procs.filter((proc) => proc !== claimant)
    const result = await second
    expect(result.code, result.stderr).toBe(0)
    const pulled = JSON.parse(result.stdout) as PullResult
    expect(pulled.image.digest).toBe(image.manifestDigest)
    // The follower took over the origin fetch once the claimant was gone.
    expect(proxy.blobGets.get(big)).toBe(2)
    await first
    // Listings print only references and digests with -q.
    const refs = await runCli(['image', 'list', '-q', '--data-dir', follower.dataDir])
    expect(refs.stdout.trim().split('\n')).toContain(ref)
    const digests = (await runCli(['layer', 'list', '-q', '--data-dir', follower.dataDir])).stdout
      .trim()
      .split('\n')
    expect(digests).toContain(big)
    expect(digests.every((line) => /^sha256:[0-9a-f]{64}$/.test(line))).toBe(true)
  })

  it('a daemon killed mid-pull leaves no half-written blob, and pulls cleanly after a restart', async () => {
    proxy.throttle(3_000_000)
    const victim = procs[1]!
    const gets = proxy.blobGets.get(big) ?? 0
    // Not from a peer: remove the image wherever it is, so the victim must go to the origin.
    for (const proc of procs) await runCli(['image', 'rm', ref, '--data-dir', proc.dataDir])
    const pull = runCli(['image', 'pull', ref, '--data-dir', victim.dataDir])
    await waitFor('the victim to fetch the big layer', () => (proxy.blobGets.get(big) ?? 0) > gets)
    await sleep(1_500)
    process.kill(victim.pid, 'SIGKILL')
    await victim.exited
    await pull
    const hex = big.slice('sha256:'.length)
    expect(await readdir(join(victim.dataDir, 'blobs', 'sha256'))).not.toContain(hex)

    proxy.throttle(0)
    const restarted = await spawnDaemon({
      name: victim.name,
      dataDir: victim.dataDir,
      args: joinArgs(founder, procs[0]!),
    })
    procs[1] = restarted
    // The restart swept the temporary files away.
    expect(await readdir(join(victim.dataDir, 'blobs', 'tmp'))).toEqual([])
    const human = await runCli(['image', 'pull', ref, '--data-dir', restarted.dataDir])
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toMatch(/from the origin/)
    expect(await readdir(join(victim.dataDir, 'blobs', 'sha256'))).toContain(hex)
    const listed = await cliJson<ImageView[]>(restarted.dataDir, 'image', 'list')
    expect(listed.map((view) => view.ref)).toContain(ref)
    const layers = await cliJson<LayerView[]>(restarted.dataDir, 'layer', 'list')
    expect(layers.find((layer) => layer.digest === big)).toMatchObject({
      size: BIG_LAYER > 0 ? expect.any(Number) : 0,
    })
  })

  it('reports a reference with a typo and an unknown image with clear codes', async () => {
    const typo = await runCli(['image', 'pull', 'Team/UPPER:v1', '--data-dir', procs[0]!.dataDir])
    expect(typo.code).toBe(1)
    expect(typo.stderr).toMatch(/SHOAL_INVALID_REFERENCE/)
    const missing = await runCli([
      'image',
      'pull',
      `${proxy.host}/team/nothing:v1`,
      '--data-dir',
      procs[0]!.dataDir,
    ])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/SHOAL_MANIFEST_NOT_FOUND/)
    const down = await runCli(['image', 'pull', '127.0.0.1:1/team/app:v1', '--data-dir', procs[0]!.dataDir])
    expect(down.stderr).toMatch(/SHOAL_REGISTRY_UNREACHABLE/)
  })
})
