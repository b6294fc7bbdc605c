// setTimeout for any delay: Node runs a timer over 2^31-1 ms (24.8 days) after 1 ms, so longer ones are chained.

/** The longest delay Node's timers take as given (a larger one becomes 1 ms, with a warning). */
export const MAX_TIMER_MS = 2 ** 31 - 1

export interface LongTimer {
  clear(): void
}

/**
 * Calls `callback` once after `ms` milliseconds, however many that is: a delay over MAX_TIMER_MS waits in steps
 * of at most MAX_TIMER_MS. `unref` lets the process exit while only this timer is left.
 */
export function setLongTimeout(
  callback: () => void,
  ms: number,
  options: { unref?: boolean } = {},
): LongTimer {
  let timer: NodeJS.Timeout | undefined
  const arm = (remaining: number): void => {
    const step = Math.min(Math.max(remaining, 0), MAX_TIMER_MS)
    timer = setTimeout(() => (remaining > step ? arm(remaining - step) : callback()), step)
    if (options.unref === true) timer.unref()
  }
  arm(ms)
  return { clear: () => clearTimeout(timer) }
}
