import { describe, expect, it } from 'vitest'
import { parseDuration, parseLabels, parsePort, parseSize } from '../../src/util/parse.js'

const code = (fn: () => unknown): string | undefined => {
  try {
    fn()
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}

describe('parseLabels', () => {
  it('turns repeated k=v flags into an object', () => {
    expect(parseLabels(['zone=a', 'gpu=true', 'empty='])).toEqual({ zone: 'a', gpu: 'true', empty: '' })
  })

  it('keeps everything after the first = in the value', () => {
    expect(parseLabels(['eq=a=b'])).toEqual({ eq: 'a=b' })
  })

  it.each(['novalue', '=v', ' k=v', 'k y=v', `${'k'.repeat(64)}=v`, `k=${'v'.repeat(257)}`])(
    'refuses "%s" with SHOAL_INVALID_FLAG',
    (text) => expect(code(() => parseLabels([text]))).toBe('SHOAL_INVALID_FLAG'),
  )

  it('refuses the same key twice instead of silently keeping one', () => {
    expect(code(() => parseLabels(['a=1', 'a=2']))).toBe('SHOAL_INVALID_FLAG')
  })
})

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['30', 30_000],
    ['1.5m', 90_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
  ])('reads %s as %i ms', (text, ms) => expect(parseDuration(text, '--timeout')).toBe(ms))

  it.each(['', 'soon', '5 minutes', '-1s', '1w'])('refuses "%s"', (text) => {
    expect(code(() => parseDuration(text, '--timeout'))).toBe('SHOAL_INVALID_FLAG')
  })
})

describe('parseSize', () => {
  it.each([
    ['4096', 4096],
    ['512M', 512 * 1024 ** 2],
    ['2G', 2 * 1024 ** 3],
    ['1.5GiB', 1.5 * 1024 ** 3],
    ['64k', 64 * 1024],
  ])('reads %s as %i bytes', (text, bytes) => expect(parseSize(text, '--mem')).toBe(bytes))

  it.each(['lots', '5X', '-1M'])('refuses "%s"', (text) => {
    expect(code(() => parseSize(text, '--mem'))).toBe('SHOAL_INVALID_FLAG')
  })
})

describe('parsePort', () => {
  it('accepts 0 (any free port) through 65535', () => {
    expect(parsePort('0', '--http-port')).toBe(0)
    expect(parsePort('65535', '--http-port')).toBe(65_535)
  })

  it.each(['65536', '-1', 'http', '80.5'])('refuses "%s"', (text) => {
    expect(code(() => parsePort(text, '--http-port'))).toBe('SHOAL_INVALID_FLAG')
  })
})
