// `npm run bench [-- name…]`: runs benchmarks, writes bench/results/<name>.json, prints a summary.
import '../src/polyfill.js'
import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { cliLatency } from './cli-latency.js'
import { convergence } from './convergence.js'
import { processConvergence, processConvergenceRates } from './convergence-processes.js'
import { cpuScaling } from './cpu-scaling.js'
import { failover, healTime, leaseTraffic } from './failover.js'
import { failureDetection, falseDeaths } from './failure-detection.js'
import { idle } from './idle.js'
import { idleTraffic } from './idle-traffic.js'
import { jobsBench } from './jobs.js'
import { layersLab } from './layers-lab.js'
import { layersThroughput } from './layers-throughput.js'
import { servicesBench } from './services.js'
import { simulation } from './simulation.js'
import { spawnersBench } from './spawners.js'
import { webLoad } from './web-load.js'

/** Seconds of writes the convergence benchmarks sample (shorter while investigating). */
const CONVERGENCE_SECONDS = Number(process.env.SHOAL_BENCH_CONVERGENCE_SECONDS ?? 60)
const FALSE_DEATH_MINUTES = Number(process.env.SHOAL_BENCH_FALSE_DEATH_MINUTES ?? 10)

const BENCHMARKS: Record<string, () => Promise<unknown>> = {
  'convergence-10': () => processConvergence(10),
  'convergence-30': () => processConvergence(30, CONVERGENCE_SECONDS),
  // A quieter mesh: each of the 30 daemons writes once every 10 s (3 writes a second between them).
  'convergence-30-quiet': () => processConvergence(30, CONVERGENCE_SECONDS, 10_000),
  // Investigation: one 30-daemon cluster idle, then at 3, 6 and 15 writes/s ($SHOAL_BENCH_CONVERGENCE_RATES:
  // write intervals in ms, 0 for no writes), so CPU per received record can be read from the slope.
  'convergence-30-rates': () =>
    processConvergenceRates(
      30,
      CONVERGENCE_SECONDS,
      (process.env.SHOAL_BENCH_CONVERGENCE_RATES ?? '0,10000,5000,2000').split(',').map(Number),
    ),
  'state-overhead': () => convergence(10),
  'failure-detection': () => failureDetection(10),
  idle: () => idle(60),
  'idle-traffic': () => idleTraffic([8, 20], 60),
  simulation: () =>
    simulation(
      (process.env.SHOAL_SIM_SIZES ?? '10,20,40').split(',').map(Number),
      Number(process.env.SHOAL_SIM_SECONDS ?? 30),
    ),
  'cpu-scaling': () => cpuScaling(),
  'cli-latency': () => cliLatency(40),
  'false-deaths': () => falseDeaths(FALSE_DEATH_MINUTES),
  'failover-loopback': () => failover(20, false),
  'failover-lab': () => failover(20, true),
  'heal-lab': () => healTime(10, 8_000),
  'lease-traffic': () => leaseTraffic(30),
  'layers-throughput': () => layersThroughput(500, 6),
  jobs: () => jobsBench(10_000, 5),
  // The exec driver's spawning helpers alone: CPU per child, children included, against xargs (3 alternating rounds).
  spawners: () => spawnersBench(3000, 3),
  'layers-lab': () => layersLab(8, 100),
  // The image size: S ≈ 200 MB in 4 layers (the baseline alone takes over two minutes).
  'layers-lab-200': () => layersLab(8, 100, [50e6, 50e6, 50e6, 50e6]),
  // The S / B (~16 s) with a quarter of the bytes per second: G2 where two cores are not the bound.
  'layers-lab-25': () => layersLab(8, 25),
  'web-load': () => webLoad(20, 20),
  // Issue 20: 20 replicas vs 20 jobs, reschedule after kill -9 (10 trials), a 10-replica rollout (~2 min).
  services: () => servicesBench(),
}

const requested = process.argv.slice(2)
const names = requested.length > 0 ? requested : Object.keys(BENCHMARKS)
for (const name of names) {
  if (BENCHMARKS[name] === undefined) {
    console.error(`unknown benchmark "${name}"; known: ${Object.keys(BENCHMARKS).join(', ')}`)
    process.exit(1)
  }
}

await mkdir('bench/results', { recursive: true })
const machine = {
  cpus: os.availableParallelism(),
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
  node: process.version,
  platform: `${os.type()} ${os.release()}`,
}
for (const name of names) {
  console.log(`\n== ${name}`)
  const started = new Date()
  const result = await BENCHMARKS[name]!()
  const record = {
    name,
    startedAt: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    machine,
    result,
  }
  await writeFile(`bench/results/${name}.json`, `${JSON.stringify(record, null, 2)}\n`)
  console.log(JSON.stringify(result, null, 2))
}
process.exit(0)
