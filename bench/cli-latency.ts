// Wall time of `shoal node list` against a daemon with three nodes, against `node -e ''` as the floor, interleaved.
import { execFile } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { promisify } from 'node:util'
import { CLI, cleanupDaemons } from '../test/helpers/processes.js'
import { waitFor } from '../test/helpers/wait.js'
import { nodesOf, spawnCluster } from './processes.js'
import { type Summary, summarize } from './stats.js'

const run = promisify(execFile)

export interface CliLatencyResult {
  runs: number
  nodeList: Summary
  nodeFloor: Summary
  /** `node --input-type=module` loading node:http: the floor for any ESM HTTP client. */
  esmHttpFloor: Summary
  /** node list p50 ÷ `node -e ''` p50. */
  p50Ratio: number
}

async function wall(command: string, args: string[]): Promise<number> {
  const start = performance.now()
  await run(command, args)
  return performance.now() - start
}

export async function cliLatency(runs = 40): Promise<CliLatencyResult> {
  const cluster = await spawnCluster(3, 'cli')
  try {
    await waitFor(
      'three alive nodes',
      async () => (await nodesOf(cluster[0]!)).filter((n) => n.state === 'alive').length === 3,
    )
    const list: number[] = []
    const floor: number[] = []
    const esm: number[] = []
    const listArgs = [CLI, 'node', 'list', '--data-dir', cluster[0]!.dataDir]
    for (let i = 0; i < 3; i++) await wall(process.execPath, listArgs)
    for (let i = 0; i < runs; i++) {
      list.push(await wall(process.execPath, listArgs))
      floor.push(await wall(process.execPath, ['-e', '']))
      esm.push(await wall(process.execPath, ['--input-type=module', '-e', "await import('node:http')"]))
    }
    const nodeList = summarize(list)
    const nodeFloor = summarize(floor)
    return {
      runs,
      nodeList,
      nodeFloor,
      esmHttpFloor: summarize(esm),
      p50Ratio: Math.round((nodeList.p50 / nodeFloor.p50) * 100) / 100,
    }
  } finally {
    await cleanupDaemons()
  }
}
