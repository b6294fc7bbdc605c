// The error codes src/errors.ts defines and the ones the README's error table documents, for tests to compare.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import * as errors from '../../src/errors.js'

const README = resolve(import.meta.dirname, '../../README.md')
const TABLE_HEADING = '### Exit codes and errors'

/** Every `code` of an error class exported by src/errors.ts. */
export function definedErrorCodes(): Set<string> {
  const codes = new Set<string>()
  for (const value of Object.values(errors)) {
    if (typeof value !== 'function') continue
    const code = (value as { code?: unknown }).code
    if (typeof code === 'string') codes.add(code)
  }
  return codes
}

/**
 * The codes named in the first column of the README's error table (the rows of the section "Exit codes and
 * errors" whose first cell holds `SHOAL_…` codes), each with the row it is on.
 */
export function documentedErrorCodes(readme = readFileSync(README, 'utf8')): Map<string, string> {
  const start = readme.indexOf(TABLE_HEADING)
  if (start < 0) throw new Error(`README.md has no "${TABLE_HEADING}" section`)
  const rest = readme.slice(start + TABLE_HEADING.length)
  const end = rest.search(/^#{1,3} /m)
  const section = end < 0 ? rest : rest.slice(0, end)
  const codes = new Map<string, string>()
  for (const line of section.split('\n')) {
    if (!line.startsWith('|')) continue
    const firstCell = line.split('|')[1] ?? ''
    for (const [code] of firstCell.matchAll(/SHOAL_[A-Z0-9_]+/g)) codes.set(code, line)
  }
  return codes
}
