// Summary statistics for benchmark samples.

export interface Summary {
  n: number
  min: number
  p50: number
  p90: number
  p99: number
  max: number
  mean: number
}

/** Two decimals, as results are written. */
export function round(x: number): number {
  return Math.round(x * 100) / 100
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index]!
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    n: sorted.length,
    min: round(sorted[0] ?? Number.NaN),
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? Number.NaN),
    mean: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
  }
}

/**
 * The p99 of every write, those that never reached every node counted as slower than any that did: the measure
 * "every write converged on every node within X" asks for. Null when more than 1 % never converged.
 */
export function p99WithUnconverged(converged: readonly number[], unconverged: number): number | null {
  const never = Array.from({ length: unconverged }, () => Number.POSITIVE_INFINITY)
  const p99 = percentile([...converged].sort((a, b) => a - b).concat(never), 99)
  return Number.isFinite(p99) ? round(p99) : null
}
