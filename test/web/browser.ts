// Debian's Chromium driven by playwright-core for the web page tests: launched once per file, screenshots kept.
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'

export const CHROMIUM = process.env.SHOAL_CHROMIUM ?? '/usr/bin/chromium'
export const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts/web')

/** Fails (never skips) when there is no browser: a page test that cannot run has not passed. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install it (apt-get install chromium) or set SHOAL_CHROMIUM`)
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    // Chromium's sandbox needs user namespaces that a root CI container does not give it.
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  })
}

/** Saves a full-page screenshot as test-artifacts/web/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true })
  const path = resolve(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path, fullPage: true })
  return path
}

/** Collects what the page logs as errors and its uncaught exceptions, to assert that there were none. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`)
  })
  return errors
}
