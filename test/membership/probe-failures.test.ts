// ProbeFailures: a suspect's connection is dropped after unanswered probes in a row, never on one late answer.
import { describe, expect, it } from 'vitest'
import { ProbeFailures } from '../../src/membership/probe-failures.js'

describe('probe failures', () => {
  it('drops a suspect’s connection only after two unanswered probes in a row', () => {
    const probes = new ProbeFailures()
    expect(probes.failed('a', true)).toBe(false)
    expect(probes.failed('a', true)).toBe(true)
    // Counted per peer.
    expect(probes.failed('b', true)).toBe(false)
  })

  it('keeps the connection of a peer heard from again while its probe was out', () => {
    const probes = new ProbeFailures()
    expect(probes.failed('a', false)).toBe(false)
    expect(probes.failed('a', false)).toBe(false)
  })

  it('counts from zero again after an answer or a change of state', () => {
    const probes = new ProbeFailures()
    expect(probes.failed('a', true)).toBe(false)
    probes.clear('a')
    expect(probes.failed('a', true)).toBe(false)
    expect(probes.failed('a', true)).toBe(true)
  })
})
