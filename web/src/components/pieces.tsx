// Small shared pieces: state pills, resource bars, tag chips, empty states, error notes.
import type { ComponentChildren } from 'preact'
import type { ApiError } from '../api.js'
import { percent } from '../format.js'

/** A state as a word on a coloured pill: the word carries the meaning, the colour only helps. */
export function StatePill({ state }: { state: string }) {
  return <span class={`pill pill-${state}`}>{state}</span>
}

/** Share of a resource in use: green below 70 %, amber to 90 %, red above (the native meter's regions). */
export function Bar({ label, fraction, detail }: { label: string; fraction: number; detail: string }) {
  return (
    <div class="bar">
      <span class="bar-label">{label}</span>
      <meter
        min={0}
        max={1}
        low={0.7}
        high={0.9}
        optimum={0}
        value={fraction}
        aria-label={`${label}: ${detail}`}
      />
      <span class="bar-value" title={detail}>
        {percent(fraction)}
      </span>
    </div>
  )
}

export function Tags({ tags, kind = 'label' }: { tags: Record<string, string>; kind?: 'label' | 'tag' }) {
  const entries = Object.entries(tags)
  if (entries.length === 0) return null
  return (
    <ul class="chips" aria-label={kind === 'label' ? 'labels' : 'tags'}>
      {entries.map(([key, value]) => (
        <li key={key} class="chip">
          {key}={value}
        </li>
      ))}
    </ul>
  )
}

/** What is missing, and the command that would fill it. */
export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty" role="status">
      <p class="empty-title">{title}</p>
      {children}
    </div>
  )
}

export function ErrorNote({ error, what }: { error: ApiError; what: string }) {
  return (
    <p class="error" role="alert">
      Could not read {what}: {error.message} <code>{error.code}</code>
    </p>
  )
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" aria-busy="true">
      Reading {what}…
    </p>
  )
}
