import { createServer } from 'node:net'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CoordinatorView } from '../../src/api/types.js'
import {
  cleanupDaemons,
  cliJson,
  type DaemonProcess,
  joinArgs,
  runCli,
  signalDaemon,
  spawnDaemon,
} from '../helpers/processes.js'
import { pushTestImage, type Registry, startRegistry } from '../helpers/registry.js'
import { waitFor } from '../helpers/wait.js'
import { launchChromium, pageErrors, screenshot } from './browser.js'
import { lowContrastTexts } from './contrast.js'

/** The part of a page's canvas the history test reads (the tests compile without the DOM library). */
interface PaintedCanvas {
  width: number
  height: number
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray }
  }
}

/** A mark left in the page's global scope: still there later means the page was never reloaded. */
async function markPage(page: Page): Promise<void> {
  await page.evaluate(() => {
    ;(globalThis as { shoalTestMark?: number }).shoalTestMark = 1
  })
}

async function stillSamePage(page: Page): Promise<boolean> {
  return page.evaluate(() => (globalThis as { shoalTestMark?: number }).shoalTestMark === 1)
}

/** The focused element, as `tag#id: text` (its first 40 characters). */
async function focused(page: Page): Promise<string> {
  const element = page.locator(':focus')
  if ((await element.count()) === 0) return 'nothing'
  const [tag, id, text] = await Promise.all([
    element.evaluate((node) => node.tagName.toLowerCase()),
    element.getAttribute('id'),
    element.textContent(),
  ])
  return `${tag}${id === null ? '' : `#${id}`}: ${(text ?? '').trim().slice(0, 40)}`
}

/** A port nobody listens on now, from the OS: a restarted daemon must come back on the port its page knows. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

const nodeCard = (page: Page, peerId: string) => page.locator(`article.node[data-node-id="${peerId}"]`)

describe('the web page, in Chromium, against three daemon processes', () => {
  let alpha: DaemonProcess
  let beta: DaemonProcess
  let gamma: DaemonProcess
  let browser: Browser
  let context: BrowserContext
  let page: Page
  let errors: string[]
  let registry: Registry | undefined

  beforeAll(async () => {
    browser = await launchChromium()
    alpha = await spawnDaemon({ name: 'alpha', args: ['--label', 'zone=a'] })
    const join = joinArgs(alpha)
    ;[beta, gamma] = await Promise.all([
      spawnDaemon({ name: 'beta', args: [...join, '--label', 'zone=b'] }),
      spawnDaemon({ name: 'gamma', args: join }),
    ])
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    page = await context.newPage()
    errors = pageErrors(page)
  })
  afterAll(async () => {
    await browser?.close()
    // The service's instance is a process of beta: removed before the daemons go.
    if (beta !== undefined) await runCli(['service', 'remove', 'web-svc', '--data-dir', beta.dataDir])
    await cleanupDaemons()
    await registry?.stop()
  })

  it('lists the three nodes alive, with the coordinator badge and its term', async () => {
    await page.goto(`${beta.status.httpUrl}/`)
    await markPage(page)
    for (const proc of [alpha, beta, gamma]) {
      await nodeCard(page, proc.status.peerId)
        .and(page.locator('[data-state="alive"]'))
        .waitFor({ timeout: 20_000 })
    }
    await expect(page.locator('article.node').count()).resolves.toBe(3)
    const names = await page.locator('article.node .node-name').allTextContents()
    expect(names.sort()).toEqual(['alpha', 'beta', 'gamma'])
    await expect(nodeCard(page, alpha.status.peerId).locator('.chip').allTextContents()).resolves.toEqual([
      'zone=a',
    ])
    await expect(nodeCard(page, beta.status.peerId).getByText('this daemon')).toBeDefined()

    const view = await waitFor('the daemons to elect a coordinator', async () => {
      const seen = await cliJson<CoordinatorView>(beta.dataDir, 'coordinator')
      return seen.status === 'held' ? seen : undefined
    })
    const badge = page.getByTestId('coordinator-badge')
    await badge.waitFor()
    await expect(badge.count()).resolves.toBe(1)
    await expect(badge.textContent()).resolves.toBe(`coordinator · term ${view.term}`)
    // The coordinator is the root of the tree; the others hang below it.
    await expect(page.locator('.tree-root > article.node').getAttribute('data-node-id')).resolves.toBe(
      view.holder,
    )
    await expect(page.locator('.tree-children article.node').count()).resolves.toBe(2)
    await expect(page.locator('[data-connection="live"]').count()).resolves.toBe(1)
    await screenshot(page, 'mesh')
  })

  it('says honestly that there are no jobs and no images yet, and how to add them', async () => {
    await page.keyboard.press('2')
    await page.waitForURL(/#\/jobs$/)
    await page.getByText('No jobs yet.').waitFor()
    await expect(page.locator('.empty code').textContent()).resolves.toContain('shoal job submit')
    await page.keyboard.press('3')
    await page.getByText('No images yet.').waitFor()
    await expect(page.locator('.empty code').textContent()).resolves.toContain('shoal image pull')
  })

  it('shows a job submitted with the CLI on its node, then succeeded, without a reload', async () => {
    await page.keyboard.press('1')
    await page.waitForURL(/#\/$/)
    const submitted = await runCli([
      'job',
      'submit',
      '--data-dir',
      gamma.dataDir,
      '--name',
      'web-hello',
      '--tag',
      'suite=web',
      '--exec',
      '--',
      'sh',
      '-c',
      'echo hello from the web test; sleep 3; echo done',
    ])
    expect(submitted.code, submitted.stderr).toBe(0)
    const id = submitted.stdout.trim()
    // While it runs, the mesh tree lists it under the node that runs it.
    const onNode = page.locator('.node-jobs a', { hasText: 'web-hello' })
    await onNode.waitFor({ timeout: 20_000 })
    await screenshot(page, 'mesh-with-job')

    await page.keyboard.press('2')
    const row = page.locator(`tr[data-job-id="${id}"]`)
    await row.waitFor({ timeout: 10_000 })
    await page.locator(`tr[data-job-id="${id}"][data-state="succeeded"]`).waitFor({ timeout: 30_000 })
    await expect(row.locator('.pill').textContent()).resolves.toBe('succeeded')
    await expect(row.locator('.chip').allTextContents()).resolves.toEqual(['suite=web'])
    expect(await stillSamePage(page)).toBe(true)
    await screenshot(page, 'jobs')
    // The state filter counts the jobs in each state (from the list's `counts`): this one is among the succeeded.
    const succeededOption = page.locator('#job-state-filter option[value="succeeded"]')
    await expect
      .poll(async () => Number(/\((\d+)\)$/.exec((await succeededOption.textContent()) ?? '')?.[1] ?? 0), {
        timeout: 10_000,
      })
      .toBeGreaterThanOrEqual(1)

    // Filtering by a state the job is not in hides it; by its tag shows it.
    await page.selectOption('#job-state-filter', 'failed')
    await page.getByText('No jobs match this filter.').waitFor()
    await page.selectOption('#job-state-filter', '')
    await page.fill('#job-tag-filter', 'suite=web')
    await page.keyboard.press('Enter')
    await page.waitForURL(/tag=suite%3Dweb/)
    await row.waitFor()

    await row.locator('a').first().click()
    await page.waitForURL(new RegExp(`#/jobs/${id}$`))
    const logs = page.getByTestId('job-logs')
    await expect.poll(() => logs.textContent(), { timeout: 10_000 }).toBe('hello from the web test\ndone\n')
    await expect(page.getByTestId('job-facts').getAttribute('data-state')).resolves.toBe('succeeded')
    expect(await stillSamePage(page)).toBe(true)
    await screenshot(page, 'job')
  })

  it('shows which node holds which layer of an image pulled through the mesh, live', async () => {
    registry = await startRegistry()
    const image = await pushTestImage(registry.host, 'team/web', 'v1', [200_000])
    const ref = `${registry.host}/team/web:v1`
    await page.goto(`${alpha.status.httpUrl}/#/layers`)
    await page.getByText('No images yet.').waitFor()
    await markPage(page)
    // alpha takes it from the registry, then beta from alpha.
    for (const proc of [alpha, beta]) {
      const pulled = await runCli(['image', 'pull', ref, '--json', '--data-dir', proc.dataDir])
      expect(pulled.code, pulled.stderr).toBe(0)
    }
    const imageRow = page.locator('tr', { has: page.locator('th', { hasText: ref }) })
    await expect
      .poll(() => imageRow.locator('.chip').allTextContents(), { timeout: 20_000 })
      .toEqual(['alpha', 'beta'])
    for (const layer of image.layers) {
      const row = page
        .getByTestId('layer-matrix')
        .locator('tr', { has: page.locator(`code[title="${layer.digest}"]`) })
      await expect.poll(() => row.locator('td.held').count(), { timeout: 20_000 }).toBe(2)
      await expect(row.locator('td.absent').count()).resolves.toBe(1)
      await expect(row.locator('td.held .visually-hidden').allTextContents()).resolves.toEqual([
        'on alpha',
        'on beta',
      ])
    }
    // This node fetched every byte from the origin; the card says so once the daemon's counters are sampled.
    await expect
      .poll(() => page.getByTestId('bytes-this-node').textContent(), { timeout: 15_000 })
      .toMatch(/^This node's pulls0 % not from the origin.* from origin registries/)
    expect(await stillSamePage(page)).toBe(true)
    await screenshot(page, 'layers')
  })

  it('shows a service added with the CLI: ready of replicas, generations, its instance and variables, live', async () => {
    await page.goto(`${alpha.status.httpUrl}/#/services`)
    await page.getByText('No services yet.').waitFor({ timeout: 20_000 })
    await expect(page.locator('.empty code').textContent()).resolves.toContain('shoal service add')
    await markPage(page)
    // Added on gamma, pinned to beta by its label: the page on alpha shows what beta runs.
    const added = await runCli([
      'service',
      'add',
      'web-svc',
      '--data-dir',
      gamma.dataDir,
      '--exec',
      '--constraint',
      'zone=b',
      '--var',
      'count=3',
      '--',
      'sh',
      '-c',
      'exec sleep 3037',
    ])
    expect(added.code, added.stderr).toBe(0)
    const card = page.locator('article.service[data-service="web-svc"]')
    await card.and(page.locator('[data-ready="1/1"]')).waitFor({ timeout: 30_000 })
    const row = card.locator('tr[data-slot="0"][data-state="running"]')
    await row.waitFor()
    await expect(row.locator('td').first().textContent()).resolves.toBe('beta')
    await expect(card.getAttribute('data-generation')).resolves.toMatch(/^(\d+)\/\1$/)
    await expect
      .poll(() => card.getByTestId('slot-vars').first().textContent(), { timeout: 10_000 })
      .toBe('{"count":3}')

    // Scaled from another node: the second instance appears, pending or starting, then running.
    const scaled = await runCli(['service', 'scale', 'web-svc', '2', '--data-dir', alpha.dataDir])
    expect(scaled.code, scaled.stderr).toBe(0)
    await card.and(page.locator('[data-ready="2/2"]')).waitFor({ timeout: 30_000 })
    await expect(card.locator('tbody tr[data-state]').count()).resolves.toBe(2)
    // The new slot's variables are read again after the change: its initial values.
    await expect
      .poll(() => card.getByTestId('slot-vars').allTextContents(), { timeout: 10_000 })
      .toEqual(['{"count":3}', '{"count":3}'])
    await expect(page.getByTestId('services-summary').textContent()).resolves.toBe(
      '1 service, 1 with every instance ready',
    )
    expect(await stillSamePage(page)).toBe(true)
    await screenshot(page, 'services')
  })

  it('can be used by keyboard alone', async () => {
    const fresh = await context.newPage()
    try {
      await fresh.goto(`${beta.status.httpUrl}/`)
      await fresh.locator('article.node').first().waitFor()
      await fresh.keyboard.press('Tab')
      expect(await focused(fresh)).toBe('a: Skip to content')
      await fresh.keyboard.press('Tab')
      expect(await focused(fresh)).toBe('a: Mesh')
      await fresh.keyboard.press('Tab')
      await fresh.keyboard.press('Enter')
      await fresh.waitForURL(/#\/jobs$/)
      // The new view's heading takes focus, so the next Tab goes into the view.
      await expect.poll(() => focused(fresh)).toBe('h2#view-title: Jobs')
      await fresh.keyboard.press('Tab')
      expect(await focused(fresh)).toMatch(/^select#job-state-filter/)
      await fresh.keyboard.press('Escape')
      await fresh.locator('h2').focus()
      await fresh.keyboard.press('/')
      expect(await focused(fresh)).toBe('input#job-tag-filter: ')
      // Keys typed into a field are text, not view switches.
      await fresh.keyboard.type('3')
      await expect(fresh.inputValue('#job-tag-filter')).resolves.toBe('3')
      expect(fresh.url()).toMatch(/#\/jobs$/)
      await expect(fresh.locator('.tab[aria-current="page"]').textContent()).resolves.toBe('Jobs')
      // Number keys switch views from anywhere else.
      await fresh.locator('h2').focus()
      await fresh.keyboard.press('3')
      await expect.poll(() => focused(fresh)).toBe('h2#view-title: Images and layers')
    } finally {
      await fresh.close()
    }
  })

  it('has readable contrast in light and dark, in every view', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const themed = await browser.newPage({ colorScheme, viewport: { width: 1280, height: 900 } })
      try {
        for (const view of ['', 'jobs', 'layers', 'history', 'services']) {
          await themed.goto(`${alpha.status.httpUrl}/#/${view}`)
          await themed.locator('[data-connection="live"]').waitFor()
          await themed.locator('h2').waitFor()
          await themed.waitForLoadState('networkidle').catch(() => undefined)
          expect(await lowContrastTexts(themed), `${colorScheme} #/${view}`).toEqual([])
          await screenshot(themed, `${view || 'mesh'}-${colorScheme}`)
        }
        const background = await themed.evaluate('getComputedStyle(document.body).backgroundColor')
        expect(background).toBe(colorScheme === 'dark' ? 'rgb(13, 17, 23)' : 'rgb(246, 248, 250)')
      } finally {
        await themed.close()
      }
    }
  })

  it('shows the history charts', async () => {
    await page.goto(`${alpha.status.httpUrl}/#/layers`)
    await page.getByTestId('layer-matrix').waitFor()
    await page.keyboard.press('4')
    await page.waitForURL(/#\/history$/)
    await page.locator('figure.chart canvas').nth(3).waitFor()
    await expect(page.locator('figure.chart canvas').count()).resolves.toBe(4)
    // The job that finished earlier is counted in its minute.
    await expect
      .poll(() => page.locator('figure.chart').first().locator('.legend').textContent())
      .toBe('finished: 1 in the last hour')
    // Utilisation is drawn from the daemon's first sample on.
    await expect
      .poll(() => page.locator('figure.chart').nth(1).locator('canvas').getAttribute('aria-label'), {
        timeout: 15_000,
      })
      .toMatch(/CPU \(load \/ CPUs\): \d+ %/)
    // And drawn: the canvases hold painted pixels (they are redrawn only when their data changes).
    const painted = (index: number) =>
      page
        .locator('figure.chart canvas')
        .nth(index)
        .evaluate((canvas: PaintedCanvas) => {
          const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height)
          let count = 0
          for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) count++
          return count
        })
    await expect.poll(() => painted(0), { timeout: 15_000 }).toBeGreaterThan(0)
    await expect.poll(() => painted(1), { timeout: 15_000 }).toBeGreaterThan(0)
    await screenshot(page, 'history')
  })

  it('turns a node killed with kill -9 dead, without a reload', async () => {
    await page.goto(`${alpha.status.httpUrl}/#/`)
    await markPage(page)
    const card = nodeCard(page, gamma.status.peerId)
    await card.and(page.locator('[data-state="alive"]')).waitFor({ timeout: 20_000 })
    await signalDaemon(gamma, 'SIGKILL')
    await card.and(page.locator('[data-state="dead"]')).waitFor({ timeout: 20_000 })
    await expect(card.locator('.pill').first().textContent()).resolves.toBe('dead')
    await expect(page.getByTestId('mesh-summary').textContent()).resolves.toMatch(
      /2 alive, 0 suspect, 1 dead/,
    )
    expect(await stillSamePage(page)).toBe(true)
    await screenshot(page, 'mesh-node-dead')
  })

  it('follows its own daemon through a restart, without a reload', async () => {
    const port = String(await freePort())
    const args = joinArgs(alpha)
    let delta = await spawnDaemon({ name: 'delta', args: [...args, '--http-port', port] })
    await page.goto(`http://127.0.0.1:${port}/`)
    await markPage(page)
    await nodeCard(page, delta.status.peerId).and(page.locator('[data-state="alive"]')).waitFor()
    await page.locator('[data-connection="live"]').waitFor()
    const errorsBefore = errors.length
    await signalDaemon(delta, 'SIGKILL')
    await page.locator('[data-connection="reconnecting"]').waitFor({ timeout: 10_000 })
    delta = await spawnDaemon({ name: 'delta', dataDir: delta.dataDir, args: [...args, '--http-port', port] })
    // Back: the page reads everything again and follows the new event stream.
    await page.locator('[data-connection="live"]').waitFor({ timeout: 20_000 })
    await nodeCard(page, alpha.status.peerId)
      .and(page.locator('[data-state="alive"]'))
      .waitFor({ timeout: 20_000 })
    await expect(nodeCard(page, delta.status.peerId).getAttribute('data-state')).resolves.toBe('alive')
    expect(await stillSamePage(page)).toBe(true)
    // The browser reports the requests the dead daemon cut off; nothing else went wrong meanwhile.
    for (const error of errors.splice(errorsBefore))
      expect(error).toMatch(/Failed to load resource: net::ERR_/)
  })

  it('logged no errors in the page', () => {
    expect(errors).toEqual([])
  })
})
