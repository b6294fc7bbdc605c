// `-w`: a listing printed again every couple of seconds until Ctrl-C, like watch(1).
import { setTimeout } from 'node:timers/promises'

/** How often a watched listing is printed again. */
export const WATCH_INTERVAL_MS = 2_000

/**
 * Runs `print` now and every WATCH_INTERVAL_MS until the process is interrupted: on a terminal the screen is
 * cleared first and headed with what is shown and when; elsewhere (a pipe, a file) each round follows a blank line.
 */
export async function watchEvery(title: string, print: () => Promise<void>): Promise<never> {
  for (let round = 0; ; round++) {
    if (process.stdout.isTTY) {
      process.stdout.write(`\x1b[H\x1b[2J${title}    ${new Date().toLocaleTimeString()}\n\n`)
    } else if (round > 0) {
      process.stdout.write('\n')
    }
    await print()
    await setTimeout(WATCH_INTERVAL_MS)
  }
}
