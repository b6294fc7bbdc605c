import { describe, expect, it } from 'vitest'
import { parseDigest } from '../../src/layers/digest.js'
import { formatReference, isLoopbackRegistry, parseReference } from '../../src/layers/reference.js'

const DIGEST = `sha256:${'a'.repeat(64)}`

describe('image references', () => {
  it('parses the forms Docker accepts, with Docker Hub defaults', () => {
    expect(parseReference('alpine')).toEqual({
      registry: 'docker.io',
      repository: 'library/alpine',
      tag: 'latest',
    })
    expect(parseReference('team/app:v1')).toEqual({
      registry: 'docker.io',
      repository: 'team/app',
      tag: 'v1',
    })
    expect(parseReference('127.0.0.1:5000/team/app:v1.2-rc')).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'team/app',
      tag: 'v1.2-rc',
    })
    expect(parseReference(`ghcr.io/org/app@${DIGEST}`)).toEqual({
      registry: 'ghcr.io',
      repository: 'org/app',
      digest: DIGEST,
    })
    expect(parseReference('localhost/app:x').registry).toBe('localhost')
    expect(formatReference(parseReference('alpine:3'))).toBe('docker.io/library/alpine:3')
  })

  it('refuses typos and tricks with SHOAL_INVALID_REFERENCE', () => {
    for (const bad of [
      '',
      'Team/App',
      'app:',
      'app:bad tag',
      '../etc/passwd',
      'app@sha256:xyz',
      'a//b',
      `x${'y'.repeat(600)}`,
    ]) {
      expect(() => parseReference(bad), bad).toThrow(
        expect.objectContaining({ code: 'SHOAL_INVALID_REFERENCE' }),
      )
    }
  })

  it('treats only loopback registries as local', () => {
    expect(isLoopbackRegistry('127.0.0.1:5000')).toBe(true)
    expect(isLoopbackRegistry('localhost:5000')).toBe(true)
    expect(isLoopbackRegistry('[::1]:5000')).toBe(true)
    expect(isLoopbackRegistry('10.0.0.5:5000')).toBe(false)
    expect(isLoopbackRegistry('docker.io')).toBe(false)
  })
})

describe('digests', () => {
  it('accept only sha256 and 64 lowercase hex digits, so they can never name a path', () => {
    expect(parseDigest(DIGEST)).toBe(DIGEST)
    for (const bad of [
      'sha256:../../x',
      `sha256:${'A'.repeat(64)}`,
      `sha512:${'a'.repeat(64)}`,
      `sha256:${'a'.repeat(63)}`,
      `${DIGEST}/`,
    ]) {
      expect(() => parseDigest(bad), bad).toThrow(expect.objectContaining({ code: 'SHOAL_INVALID_DIGEST' }))
    }
  })
})
