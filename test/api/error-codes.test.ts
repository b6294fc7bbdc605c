import { describe, expect, it } from 'vitest'
import { STATUS_BY_CODE } from '../../src/api/status.js'
import { definedErrorCodes, documentedErrorCodes } from '../helpers/error-table.js'

describe('the error codes', () => {
  const defined = definedErrorCodes()
  const documented = documentedErrorCodes()

  it('finds the codes on both sides (the parsers read something)', () => {
    expect(defined.size).toBeGreaterThan(50)
    expect(documented.size).toBeGreaterThan(50)
  })

  it('documents every code src/errors.ts defines in the README error table', () => {
    const missing = [...defined].filter((code) => !documented.has(code)).sort()
    expect(missing, 'codes without a README row').toEqual([])
  })

  it('names in the README error table only codes that exist', () => {
    const unknown = [...documented.keys()].filter((code) => !defined.has(code)).sort()
    expect(unknown, 'README rows naming no code of src/errors.ts').toEqual([])
  })

  it('gives every code an HTTP status', () => {
    const unmapped = [...defined].filter((code) => !STATUS_BY_CODE.has(code)).sort()
    expect(unmapped, 'codes src/api/status.ts does not map').toEqual([])
  })

  it('reads a code named outside the first column as undocumented', () => {
    const table =
      '### Exit codes and errors\n\n| code | when |\n|---|---|\n| `SHOAL_A` | unlike `SHOAL_B` |\n'
    expect([...documentedErrorCodes(table).keys()]).toEqual(['SHOAL_A'])
  })
})
