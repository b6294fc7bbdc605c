// The API's table of HTTP statuses: every error class has one, and errors themselves know no HTTP.
import { describe, expect, it } from 'vitest'
import { STATUS_BY_CODE, statusOf } from '../../src/api/status.js'
import * as errors from '../../src/errors.js'
import { JobNotFoundError, ShoalError, type ShoalErrorClass } from '../../src/errors.js'

/** Every error class src/errors.ts exports (the base excepted), by its export name. */
const errorClasses = Object.entries(errors as Record<string, unknown>).filter(
  (entry): entry is [string, ShoalErrorClass] =>
    typeof entry[1] === 'function' && entry[1].prototype instanceof ShoalError,
)

describe('HTTP statuses of error codes', () => {
  it('finds error classes to check', () => {
    // Guards the filter: a change in how errors are declared must not leave the checks below with nothing.
    expect(errorClasses.length).toBeGreaterThan(40)
  })

  it.each(errorClasses)('gives %s a status', (_name, ErrorClass) => {
    const status = STATUS_BY_CODE.get(ErrorClass.code)
    expect(status).toBeGreaterThanOrEqual(400)
    expect(status).toBeLessThan(600)
    expect(statusOf(new ErrorClass('a failure'))).toBe(status)
  })

  it.each(errorClasses)('gives %s a stable name and code of its own', (name, ErrorClass) => {
    const error = new ErrorClass('a failure')
    expect(error.name).toBe(name)
    expect(ErrorClass.name).toBe(name)
    expect(error.code).toBe(ErrorClass.code)
    expect(error.code).toMatch(/^SHOAL_[A-Z_]+$/)
    expect(error.toJSON()).toEqual({ code: ErrorClass.code, message: 'a failure' })
    expect('status' in error).toBe(false)
  })

  it('gives every class a different code', () => {
    const codes = errorClasses.map(([, ErrorClass]) => ErrorClass.code)
    expect(new Set(codes).size).toBe(codes.length)
  })

  it('maps the codes a client acts on to their statuses', () => {
    expect(statusOf({ code: 'SHOAL_JOB_NOT_FOUND' })).toBe(404)
    expect(statusOf({ code: 'SHOAL_INVALID_FLAG' })).toBe(400)
    expect(statusOf(new JobNotFoundError('no job x'))).toBe(404)
    expect(statusOf({ code: 'SHOAL_SYNC_PROTOCOL' })).toBe(502)
  })

  it('answers a code it does not know, and anything turned into a ShoalError, with 500', () => {
    expect(statusOf(new ShoalError('SHOAL_FROM_ELSEWHERE', 'relayed'))).toBe(500)
    expect(statusOf(errors.asShoalError(new Error('boom')))).toBe(500)
  })
})
