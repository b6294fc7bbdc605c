// History for the charts: rates from cumulative counters, utilisation, and jobs finished per minute (pure).
import type { StatsSample } from './types.js'

export interface Point {
  /** ms since the epoch */
  t: number
  /** null draws a gap (no sample, or a counter that restarted). */
  v: number | null
}

/** A per-second rate between consecutive samples; a gap longer than `maxGapMs` or a counter reset breaks it. */
export function rates(
  samples: readonly StatsSample[],
  pick: (sample: StatsSample) => number,
  maxGapMs: number,
): Point[] {
  const points: Point[] = []
  for (let i = 1; i < samples.length; i++) {
    const before = samples[i - 1]!
    const after = samples[i]!
    const t0 = Date.parse(before.at)
    const t1 = Date.parse(after.at)
    const delta = pick(after) - pick(before)
    const ok = t1 > t0 && t1 - t0 <= maxGapMs && delta >= 0
    points.push({ t: t1, v: ok ? delta / ((t1 - t0) / 1000) : null })
  }
  return points
}

/** Cluster CPU (1-minute load over CPUs, capped at 100 %) and memory in use, as fractions. */
export function utilisation(samples: readonly StatsSample[]): {
  cpu: Point[]
  memory: Point[]
  disk: Point[]
} {
  const fraction = (used: number, total: number): number | null =>
    total > 0 ? Math.min(1, used / total) : null
  return {
    cpu: samples.map((s) => ({ t: Date.parse(s.at), v: fraction(s.cluster.load, s.cluster.cpus) })),
    memory: samples.map((s) => ({
      t: Date.parse(s.at),
      v: fraction(s.cluster.memoryUsed, s.cluster.memoryTotal),
    })),
    disk: samples.map((s) => ({ t: Date.parse(s.at), v: fraction(s.cluster.diskUsed, s.cluster.diskTotal) })),
  }
}

const MINUTE_MS = 60_000

/** Jobs finished per minute, counted once per job id (from the list at load, then from live events). */
export class FinishedPerMinute {
  private readonly minutes = new Map<number, number>()
  private readonly counted = new Set<string>()

  constructor(private readonly keepMinutes = 60) {}

  /** Counts a finished job; returns false if it was counted before or finished too long ago. */
  add(id: string, finishedAt: string, now = Date.now()): boolean {
    const at = Date.parse(finishedAt)
    if (Number.isNaN(at) || this.counted.has(id)) return false
    const minute = Math.floor(at / MINUTE_MS) * MINUTE_MS
    if (minute <= now - this.keepMinutes * MINUTE_MS) return false
    this.counted.add(id)
    this.minutes.set(minute, (this.minutes.get(minute) ?? 0) + 1)
    this.prune(now)
    return true
  }

  /** One point per minute over the window, oldest first; the current minute is the last. */
  series(now = Date.now()): Point[] {
    const current = Math.floor(now / MINUTE_MS) * MINUTE_MS
    const points: Point[] = []
    for (let i = this.keepMinutes - 1; i >= 0; i--) {
      const t = current - i * MINUTE_MS
      points.push({ t, v: this.minutes.get(t) ?? 0 })
    }
    return points
  }

  /** Jobs finished within the window. */
  total(now = Date.now()): number {
    const oldest = now - this.keepMinutes * MINUTE_MS
    let sum = 0
    for (const [minute, count] of this.minutes) if (minute > oldest) sum += count
    return sum
  }

  private prune(now: number): void {
    const oldest = now - this.keepMinutes * MINUTE_MS
    for (const minute of this.minutes.keys()) if (minute <= oldest) this.minutes.delete(minute)
    // Ids only matter while their minute is shown; forget them in bulk once there are many.
    if (this.counted.size > 100_000) this.counted.clear()
  }
}

/** A round number at or above `value` (1, 2, 5 × 10^n), for the top of the scale. */
export function niceCeiling(value: number): number {
  if (value <= 0) return 1
  const magnitude = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 5, 10]) if (step * magnitude >= value) return step * magnitude
  return 10 * magnitude
}
