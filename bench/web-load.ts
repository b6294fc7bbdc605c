// Web page benchmark: bundle size, load and first paint on loopback, event-to-page latency, and a 50-node/10,000-job page.
import { readFile } from 'node:fs/promises'
import { gzipSync } from 'node:zlib'
import type { Browser, Page } from 'playwright-core'
import { createClient } from '../cli/client.js'
import type { JobView } from '../src/api/types.js'
import { cleanupDaemons } from '../test/helpers/processes.js'
import { sleep, waitFor } from '../test/helpers/wait.js'
import { launchChromium } from '../test/web/browser.js'
import { spawnCluster } from './processes.js'
import { type Summary, summarize } from './stats.js'
import { startFixture } from './web-fixture.js'

/**
 * Runs in the page before its own script: marks when `want` node cards are in the DOM, records long tasks and
 * frames, and (once `watchJobs` is set) the wall time each job row first appears and turns succeeded. DOM
 * mutations are observed before the next paint, so "in the DOM" is at most a frame before "on screen".
 */
const probe = (want: number): string => `(() => {
  const bench = { marks: {}, longTasks: [], frames: 0, watchJobs: false, seen: {}, succeeded: {} }
  globalThis.__bench = bench
  new PerformanceObserver((list) => { for (const entry of list.getEntries()) bench.longTasks.push(entry.duration) })
    .observe({ type: 'longtask', buffered: true })
  const frame = () => { bench.frames++; requestAnimationFrame(frame) }
  requestAnimationFrame(frame)
  new MutationObserver(() => {
    if (bench.marks.nodes === undefined && document.querySelectorAll('article.node').length >= ${want}) {
      bench.marks.nodes = performance.now()
    }
    if (!bench.watchJobs) return
    const now = Date.now()
    for (const row of document.querySelectorAll('tr[data-job-id]')) {
      const id = row.getAttribute('data-job-id')
      if (!(id in bench.seen)) bench.seen[id] = now
      if (row.getAttribute('data-state') === 'succeeded' && !(id in bench.succeeded)) bench.succeeded[id] = now
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] })
})()`

/** The page's CSP forbids string evaluation, which the harness's waits use; the page's own script is unaffected. */
const PAGE_OPTIONS = { viewport: { width: 1280, height: 900 }, bypassCSP: true }

interface LoadTiming {
  responseEndMs: number
  firstPaintMs: number
  firstContentfulPaintMs: number
  domContentLoadedMs: number
  /** Until every node's card is in the DOM: the page has read the API and drawn the mesh. */
  nodesShownMs: number
}

const TIMINGS = `(() => {
  const nav = performance.getEntriesByType('navigation')[0]
  const paint = Object.fromEntries(performance.getEntriesByType('paint').map((entry) => [entry.name, entry.startTime]))
  return {
    responseEndMs: nav.responseEnd,
    firstPaintMs: paint['first-paint'],
    firstContentfulPaintMs: paint['first-contentful-paint'],
    domContentLoadedMs: nav.domContentLoadedEventEnd,
    nodesShownMs: globalThis.__bench.marks.nodes,
  }
})()`

/** Cold loads: each in a new browser context (no cache), after one warm-up load of the browser itself. */
async function measureLoads(
  browser: Browser,
  url: string,
  nodes: number,
  loads: number,
): Promise<Record<keyof LoadTiming, Summary>> {
  const samples: LoadTiming[] = []
  for (let i = 0; i <= loads; i++) {
    const context = await browser.newContext(PAGE_OPTIONS)
    const page = await context.newPage()
    await page.addInitScript(probe(nodes))
    await page.goto(url)
    await page.waitForFunction('globalThis.__bench.marks.nodes !== undefined', undefined, { timeout: 30_000 })
    if (i > 0) samples.push((await page.evaluate(TIMINGS)) as LoadTiming)
    await context.close()
  }
  const keys = Object.keys(samples[0]!) as Array<keyof LoadTiming>
  return Object.fromEntries(keys.map((key) => [key, summarize(samples.map((s) => s[key]))])) as Record<
    keyof LoadTiming,
    Summary
  >
}

/**
 * The page's own measure: for each node record it drew, draw time − the record's write time (HLC wall). The
 * page keeps its last 200; they are collected every second.
 */
async function recordLags(page: Page, seconds: number): Promise<Summary> {
  const lags: number[] = []
  await page.evaluate('globalThis.shoal.lags.length = 0')
  for (let second = 0; second < seconds; second++) {
    await sleep(1_000)
    lags.push(...((await page.evaluate('globalThis.shoal.lags.splice(0)')) as number[]))
  }
  return summarize(lags)
}

async function bundle(): Promise<Record<string, number>> {
  const html = await readFile('dist/web/index.html', 'utf8')
  const script = /<script type="module">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? ''
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? ''
  return {
    htmlBytes: Buffer.byteLength(html),
    htmlGzipBytes: (await readFile('dist/web/index.html.gz')).length,
    scriptBytes: Buffer.byteLength(script),
    scriptGzipBytes: gzipSync(script, { level: 9 }).length,
    styleBytes: Buffer.byteLength(style),
  }
}

/** Three daemon processes on loopback: load, node records and jobs submitted on another node reaching the page. */
async function realMesh(browser: Browser, loads: number, jobCount: number) {
  const [alpha, , gamma] = await spawnCluster(3, 'web')
  try {
    const url = `${alpha!.status.httpUrl}/`
    await waitFor('three alive nodes', async () => {
      const nodes = (await (await fetch(`${url}v1/nodes`)).json()) as Array<{ state: string }>
      return nodes.length === 3 && nodes.every((node) => node.state === 'alive')
    })
    const load = await measureLoads(browser, url, 3, loads)

    const page = await browser.newPage(PAGE_OPTIONS)
    await page.addInitScript(probe(3))
    await page.goto(url)
    await page.waitForFunction('globalThis.__bench.marks.nodes !== undefined')
    const nodeRecords = await recordLags(page, 20)

    // Jobs submitted to another daemon, the page on the jobs view: creation → row, finish → "succeeded".
    await page.goto(`${url}#/jobs`)
    await page.locator('h2', { hasText: 'Jobs' }).waitFor()
    await page.evaluate('globalThis.__bench.watchJobs = true')
    const client = createClient(gamma!.dataDir)
    const jobs: JobView[] = []
    for (let i = 0; i < jobCount; i++) {
      jobs.push(
        await client.post<JobView>('/v1/jobs', { name: `bench-${i}`, driver: 'exec', command: ['true'] }),
      )
      await sleep(250)
    }
    const seen = await waitFor(
      'every job to show as succeeded',
      async () => {
        const bench = (await page.evaluate('globalThis.__bench')) as {
          seen: Record<string, number>
          succeeded: Record<string, number>
        }
        return jobs.every((job) => job.id in bench.succeeded) ? bench : undefined
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    )
    const finished = await Promise.all(jobs.map((job) => client.get<JobView>(`/v1/jobs/${job.id}`)))
    await page.close()
    return {
      load,
      nodeRecordToPageMs: nodeRecords,
      jobCreatedToRowMs: summarize(jobs.map((job) => seen.seen[job.id]! - Date.parse(job.createdAt))),
      jobFinishedToSucceededMs: summarize(
        finished.map((job) => seen.succeeded[job.id]! - Date.parse(job.finishedAt ?? job.createdAt)),
      ),
    }
  } finally {
    await cleanupDaemons()
  }
}

/** Time from an in-page action until a condition on the DOM holds, checked every frame (at most 20 s). */
async function timeUntil(page: Page, action: string, condition: string): Promise<number> {
  const result = (await page.evaluate(`(async () => {
    const started = performance.now()
    ${action}
    while (!(${condition})) {
      if (performance.now() - started > 20000) return { ms: -1, body: document.querySelector('main')?.innerText.slice(0, 300) }
      await new Promise((resolve) => requestAnimationFrame(resolve))
    }
    return { ms: performance.now() - started }
  })()`)) as { ms: number; body?: string }
  if (result.ms < 0)
    throw new Error(`timed out after "${action}" waiting for ${condition}; the page shows: ${result.body}`)
  return result.ms
}

/** 50 nodes and 10,000 jobs from a stand-in API, with 50 node records and 100 job changes a second. */
async function scale(browser: Browser, nodes: number, jobs: number, jobEventsPerSecond: number) {
  const fixture = await startFixture({ nodes, jobs, jobEventsPerSecond })
  try {
    const url = `${fixture.url}/`
    const load = await measureLoads(browser, url, nodes, 5)
    const page = await browser.newPage(PAGE_OPTIONS)
    await page.addInitScript(probe(nodes))
    await page.goto(url)
    await page.waitForFunction('globalThis.__bench.marks.nodes !== undefined')
    await page.evaluate('globalThis.__bench.longTasks.length = 0; globalThis.__bench.frames = 0')
    const liveSeconds = 15
    const lags = await recordLags(page, liveSeconds)
    const live = (await page.evaluate('globalThis.__bench')) as { longTasks: number[]; frames: number }
    const rows = "document.querySelectorAll('table.jobs tbody tr')"
    const firstRow = `${rows}[0]?.getAttribute('data-job-id')`
    const toJobs = await timeUntil(page, "location.hash = '#/jobs'", `${rows}.length === 100`)
    const pages: number[] = []
    for (const target of [10, 30, 50, 70, 90]) {
      pages.push(
        await timeUntil(
          page,
          `globalThis.__before = ${firstRow}; location.hash = '#/jobs?page=${target}'`,
          `${rows}.length > 0 && ${firstRow} !== globalThis.__before`,
        ),
      )
    }
    const filter = await timeUntil(
      page,
      "location.hash = '#/jobs?state=failed'",
      `${rows}.length > 0 && [...${rows}].every((row) => row.getAttribute('data-state') === 'failed')`,
    )
    const toMesh = await timeUntil(
      page,
      "location.hash = '#/'",
      `document.querySelectorAll('article.node').length === ${nodes}`,
    )
    const heapMiB = (await page.evaluate('performance.memory?.usedJSHeapSize ?? 0')) as number
    await page.close()
    return {
      nodes,
      jobs,
      nodeRecordsPerSecond: nodes,
      jobEventsPerSecond,
      load,
      liveSeconds,
      nodeRecordToPageMs: lags,
      framesPerSecond: Math.round((live.frames / liveSeconds) * 10) / 10,
      longTasks: {
        count: live.longTasks.length,
        totalMs: Math.round(live.longTasks.reduce((a, b) => a + b, 0)),
        maxMs: Math.round(Math.max(0, ...live.longTasks)),
      },
      switchToJobsMs: Math.round(toJobs),
      nextPageMs: summarize(pages),
      filterByStateMs: Math.round(filter),
      switchToMeshMs: Math.round(toMesh),
      jsHeapMiB: Math.round((heapMiB / 1024 ** 2) * 10) / 10,
    }
  } finally {
    await fixture.close()
  }
}

export async function webLoad(loads = 20, jobCount = 20) {
  const browser = await launchChromium()
  try {
    return {
      bundle: await bundle(),
      mesh3: await realMesh(browser, loads, jobCount),
      scale: await scale(browser, 50, 10_000, 100),
    }
  } finally {
    await browser.close()
  }
}
