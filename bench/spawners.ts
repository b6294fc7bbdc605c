// CPU per child of each spawning helper (Python, Perl, Node), children included, against `xargs -P 2` in the same run.
import { execFile } from 'node:child_process'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { type HelperKind, type HelperLink, startHelper } from '../src/jobs/drivers/spawner-link.js'
import { makeTempDir, removeDir } from '../test/helpers/temp-dir.js'
import { cpuOfStat } from './processes.js'

const run = promisify(execFile)
const KINDS: readonly HelperKind[] = ['python', 'perl', 'node']
/** Children running at once, as a busy node would have. */
const AT_ONCE = 20

export interface SpawnerRound {
  kind: HelperKind | 'xargs'
  wallSeconds: number
  /** The helper's own CPU per child (null for xargs: not measured apart from its children). */
  helperCpuMs: number | null
  /** Helper and children together, per child: what starting a `true` costs the machine. */
  totalCpuMs: number
}

export interface SpawnersResult {
  children: number
  rounds: SpawnerRound[]
  /** Median total CPU per child by helper, and over `xargs -P 2` of the same count. */
  medianTotalCpuMs: Record<string, number>
  overXargs: Record<string, number>
}

async function helperRound(kind: HelperKind, children: number, dir: string): Promise<SpawnerRound> {
  let sent = 0
  let done = 0
  const finished = Promise.withResolvers<void>()
  const next = (): void => {
    if (sent >= children) return
    const req = sent++
    const cwd = join(dir, `j${req % 100}`)
    link.send({
      req,
      file: 'true',
      args: [],
      cwd,
      env: { PATH: '/usr/bin:/bin', SHOAL_JOB_ID: `job-${req}` },
      outputPath: join(cwd, `${kind}.log`),
      maxBytes: 1 << 20,
      cutNote: '',
    })
  }
  const link: HelperLink = startHelper(kind, (reply) => {
    if (reply.type === 'error') finished.reject(new Error(`${kind}: ${reply.code} ${reply.message}`))
    if (reply.type === 'spawned') return
    done++
    if (done === children) finished.resolve()
    else next()
  })
  const started = performance.now()
  for (let i = 0; i < AT_ONCE; i++) next()
  // The link does not keep a process alive (a daemon's life does not hang on its helper); this round does.
  const keepAlive = setInterval(() => undefined, 1000)
  try {
    await finished.promise
    const wallSeconds = (performance.now() - started) / 1000
    const cpu = cpuOfStat(await readFile(`/proc/${link.process.pid}/stat`, 'utf8'))
    return {
      kind,
      wallSeconds: round(wallSeconds),
      helperCpuMs: round((cpu.own * 1000) / children),
      totalCpuMs: round(((cpu.own + cpu.reaped) * 1000) / children),
    }
  } finally {
    clearInterval(keepAlive)
    link.leave()
  }
}

/** `seq N | xargs -P 2 -n 1 true` under a shell that reports its children's CPU. */
async function xargsRound(children: number): Promise<SpawnerRound> {
  const script = `seq ${children} | xargs -P 2 -n 1 true; cat /proc/$$/stat`
  const started = performance.now()
  const { stdout } = await run('sh', ['-c', script])
  const wallSeconds = (performance.now() - started) / 1000
  const { reaped } = cpuOfStat(stdout)
  return {
    kind: 'xargs',
    wallSeconds: round(wallSeconds),
    helperCpuMs: null,
    totalCpuMs: round((reaped * 1000) / children),
  }
}

export async function spawnersBench(children = 3000, rounds = 3): Promise<SpawnersResult> {
  const dir = await makeTempDir('shoal-bench-spawners-')
  try {
    for (let i = 0; i < 100; i++) await mkdir(join(dir, `j${i}`))
    const all: SpawnerRound[] = []
    // Alternating, so a machine that slows down over the run weighs on every helper alike.
    for (let r = 0; r < rounds; r++) {
      all.push(await xargsRound(children))
      for (const kind of KINDS) all.push(await helperRound(kind, children, dir))
    }
    const medianTotalCpuMs: Record<string, number> = {}
    for (const kind of ['xargs', ...KINDS]) {
      medianTotalCpuMs[kind] = median(all.filter((r) => r.kind === kind).map((r) => r.totalCpuMs))
    }
    const overXargs: Record<string, number> = {}
    for (const kind of KINDS) overXargs[kind] = round(medianTotalCpuMs[kind]! / medianTotalCpuMs.xargs!)
    return { children, rounds: all, medianTotalCpuMs, overXargs }
  } finally {
    await removeDir(dir)
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000
}
