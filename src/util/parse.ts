// Parsers for user-facing values (labels, durations, sizes, ports); each failure names the flag, as the caller's error class.
import { InvalidFlagError, type ShoalErrorClass } from '../errors.js'

export const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/
const MAX_LABEL_VALUE = 256

/** Parses `k=v` into a pair; keys are DNS-label-like, values are at most 256 characters. */
export function parseLabel(
  text: string,
  flag = '--label',
  ErrorClass: ShoalErrorClass = InvalidFlagError,
): [string, string] {
  const eq = text.indexOf('=')
  if (eq <= 0) throw new ErrorClass(`${flag} expects key=value, got "${text}"`)
  const key = text.slice(0, eq)
  const value = text.slice(eq + 1)
  if (!LABEL_KEY.test(key)) {
    throw new ErrorClass(
      `${flag} key "${key}" must start with a letter or digit and use only [A-Za-z0-9._/-]`,
    )
  }
  if (value.length > MAX_LABEL_VALUE) {
    throw new ErrorClass(`${flag} value for "${key}" is longer than ${MAX_LABEL_VALUE} characters`)
  }
  return [key, value]
}

/** Parses repeated `k=v` flags into an object; a repeated key is an error rather than a silent overwrite. */
export function parseLabels(
  texts: readonly string[],
  flag = '--label',
  ErrorClass: ShoalErrorClass = InvalidFlagError,
): Record<string, string> {
  const labels: Record<string, string> = {}
  for (const text of texts) {
    const [key, value] = parseLabel(text, flag, ErrorClass)
    if (Object.hasOwn(labels, key)) throw new ErrorClass(`${flag} "${key}" given twice`)
    labels[key] = value
  }
  return labels
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/
const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Parses `250ms`, `30s`, `5m`, `2h`, `1d` (a bare number is seconds) into milliseconds. */
export function parseDuration(
  text: string,
  flag: string,
  ErrorClass: ShoalErrorClass = InvalidFlagError,
): number {
  const match = DURATION.exec(text.trim())
  if (match === null) throw new ErrorClass(`${flag} expects a duration like 30s, 5m or 250ms, got "${text}"`)
  const ms = Number(match[1]) * DURATION_UNIT_MS[match[2] ?? 's']!
  if (!Number.isFinite(ms) || ms > Number.MAX_SAFE_INTEGER) throw new ErrorClass(`${flag} is too large`)
  return Math.round(ms)
}

const SIZE = /^(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?$/i
const SIZE_UNIT: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }

/** Parses `512M`, `2G`, `1.5GiB`, `4096` (bytes) into bytes; units are binary. */
export function parseSize(
  text: string,
  flag: string,
  ErrorClass: ShoalErrorClass = InvalidFlagError,
): number {
  const match = SIZE.exec(text.trim())
  if (match === null) throw new ErrorClass(`${flag} expects a size like 512M or 2G, got "${text}"`)
  const unit = (match[2] ?? '').toUpperCase().charAt(0)
  const bytes = Number(match[1]) * SIZE_UNIT[unit]!
  if (!Number.isSafeInteger(Math.round(bytes))) throw new ErrorClass(`${flag} is too large`)
  return Math.round(bytes)
}

/** Parses a TCP port; 0 means "any free port". */
export function parsePort(text: string, flag: string): number {
  if (!/^\d{1,5}$/.test(text))
    throw new InvalidFlagError(`${flag} expects a port number 0-65535, got "${text}"`)
  const port = Number(text)
  if (port > 65_535) throw new InvalidFlagError(`${flag} expects a port number 0-65535, got "${text}"`)
  return port
}
