// A time-series chart drawn on a canvas (lines or bars), with its numbers also given as text for readers.
import { useEffect, useRef } from 'preact/hooks'
import { niceCeiling, type Point } from '../history.js'

export interface Series {
  label: string
  /** Index of the --series-N colour. */
  color: 1 | 2 | 3 | 4
  points: Point[]
  /** Said in the legend instead of the latest value (a total, for bars). */
  summary?: string
}

interface ChartProps {
  title: string
  series: Series[]
  format: (value: number) => string
  kind?: 'line' | 'bars'
  /** A fixed top of the scale (1 for fractions); otherwise the data's maximum, rounded up. */
  max?: number
  /** The lowest top of a scale that follows the data, so that a quiet chart does not magnify noise. */
  minTop?: number
  /** The time span shown, ending now. */
  windowMs: number
  /** Shown when there is nothing to draw yet, or when `empty` says there is nothing worth drawing. */
  emptyText: string
  empty?: boolean
}

export function Chart(props: ChartProps) {
  const { title, series, format, emptyText } = props
  const canvas = useRef<HTMLCanvasElement>(null)
  const hasData = props.empty !== true && series.some((s) => s.points.some((p) => p.v !== null))
  // The page renders on every event; the canvas is redrawn only when what it shows changed, or its size did.
  const latestProps = useRef(props)
  latestProps.current = props
  useEffect(() => {
    const element = canvas.current
    if (element === null) return
    const observer = new ResizeObserver(() => draw(element, latestProps.current))
    observer.observe(element)
    return () => observer.disconnect()
  }, [])
  const signature = drawnSignature(props)
  useEffect(() => {
    if (canvas.current !== null) draw(canvas.current, latestProps.current)
  }, [signature])
  const latest = series.map((s) => {
    const last = s.points.findLast((p) => p.v !== null)
    return { label: s.label, color: s.color, text: s.summary ?? (last?.v == null ? '–' : format(last.v)) }
  })
  const summary = `${title}. ${hasData ? latest.map((l) => `${l.label}: ${l.text}`).join(', ') : emptyText}`
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <canvas ref={canvas} role="img" aria-label={summary} />
      {hasData ? (
        <ul class="legend">
          {latest.map((l) => (
            <li key={l.label}>
              <span class={`swatch swatch-${l.color}`} aria-hidden="true" />
              {l.label}: <strong>{l.text}</strong>
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted chart-empty">{emptyText}</p>
      )}
    </figure>
  )
}

/** What the canvas shows, in a string: equal strings draw the same picture. */
function drawnSignature(props: ChartProps): string {
  const series = props.series.map((s) => {
    let sum = 0
    for (const point of s.points) sum += point.v ?? 0
    return [s.color, s.points.length, s.points[0]?.t, s.points.at(-1)?.t, s.points.at(-1)?.v, sum]
  })
  return JSON.stringify([props.kind, props.max, props.minTop, props.windowMs, props.empty, series])
}

function draw(
  canvas: HTMLCanvasElement,
  { series, format, kind = 'line', max: fixedMax, minTop = 1, windowMs }: ChartProps,
): void {
  const ratio = window.devicePixelRatio || 1
  const width = canvas.clientWidth
  const height = canvas.clientHeight
  if (width === 0 || height === 0) return
  canvas.width = Math.round(width * ratio)
  canvas.height = Math.round(height * ratio)
  const g = canvas.getContext('2d')
  if (g === null) return
  g.scale(ratio, ratio)
  const style = getComputedStyle(canvas)
  const color = (name: string): string => style.getPropertyValue(name).trim()
  g.font = `12px ${style.fontFamily}`
  const now = Date.now()
  const start = now - windowMs
  let top = fixedMax ?? 0
  if (fixedMax === undefined) {
    for (const s of series)
      for (const p of s.points) if (p.v !== null && p.t >= start) top = Math.max(top, p.v)
    top = niceCeiling(Math.max(top, minTop))
  }
  const left = Math.max(...[top, top / 2, 0].map((v) => g.measureText(format(v)).width)) + 10
  const plot = { x: left, y: 8, w: width - left - 8, h: height - 8 - 22 }
  const x = (t: number): number => plot.x + ((t - start) / windowMs) * plot.w
  const y = (v: number): number => plot.y + plot.h - (v / top) * plot.h

  g.strokeStyle = color('--grid')
  g.fillStyle = color('--muted')
  g.lineWidth = 1
  g.textBaseline = 'middle'
  g.textAlign = 'right'
  for (const v of [0, top / 2, top]) {
    g.beginPath()
    g.moveTo(plot.x, Math.round(y(v)) + 0.5)
    g.lineTo(plot.x + plot.w, Math.round(y(v)) + 0.5)
    g.stroke()
    g.fillText(format(v), plot.x - 6, y(v))
  }
  g.textBaseline = 'top'
  g.textAlign = 'left'
  g.fillText(`−${Math.round(windowMs / 60_000)} min`, plot.x, plot.y + plot.h + 6)
  g.textAlign = 'right'
  g.fillText('now', plot.x + plot.w, plot.y + plot.h + 6)

  series.forEach((s, index) => {
    g.strokeStyle = g.fillStyle = color(`--series-${s.color}`)
    const points = s.points.filter((p) => p.t >= start)
    if (kind === 'bars') {
      const slot = points.length > 1 ? x(points[1]!.t) - x(points[0]!.t) : plot.w / 60
      const barWidth = Math.max(1, (slot * 0.8) / series.length)
      for (const p of points) {
        if (p.v === null || p.v === 0) continue
        g.fillRect(x(p.t) + index * barWidth, y(p.v), barWidth, plot.y + plot.h - y(p.v))
      }
      return
    }
    g.lineWidth = 2
    g.beginPath()
    points.forEach((p, i) => {
      if (p.v === null) return
      const px = x(p.t)
      const py = y(Math.min(p.v, top))
      const joined = points[i - 1]?.v != null
      if (joined) g.lineTo(px, py)
      else g.moveTo(px, py)
      // A point with no neighbour would draw nothing as a line.
      if (!joined && points[i + 1]?.v == null) g.fillRect(px - 2, py - 2, 4, 4)
    })
    g.stroke()
  })
}
