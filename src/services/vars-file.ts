// An instance's persistent variables file ($SHOAL_VARS): written before each start, read back when it changes.
import { readFile, stat } from 'node:fs/promises'
import { VarsTooLargeError } from '../errors.js'
import { replaceFileAtomically } from '../util/atomic-file.js'
import { MAX_VARS_BYTES } from './constants.js'
import { type Vars, varsSchema } from './spec.js'

/** What a look at the file found: new values, the same ones, or a problem to report (the last values stand). */
export type VarsRead = { values: Vars; json: string } | { problem: string } | undefined

export class VarsFile {
  /** The JSON last written or read: a look that finds the same text reports nothing. */
  private last = ''
  private lastStat = ''

  constructor(readonly path: string) {}

  async write(values: Vars): Promise<void> {
    const json = JSON.stringify(values)
    await replaceFileAtomically(this.path, `${JSON.stringify(values, null, 2)}\n`, 0o644)
    this.last = json
    this.lastStat = ''
  }

  /**
   * Reads the file if it changed since the last look. A file being written (not JSON yet) is looked at again
   * next time; one over MAX_VARS_BYTES or not an object is a problem that names the limit or the fault.
   */
  async read(): Promise<VarsRead> {
    let info: Awaited<ReturnType<typeof stat>>
    try {
      info = await stat(this.path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    const seen = `${info.size}:${info.mtimeMs}`
    if (seen === this.lastStat) return undefined
    if (info.size > MAX_VARS_BYTES * 4) {
      this.lastStat = seen
      return { problem: tooLarge(info.size).message }
    }
    const text = await readFile(this.path, 'utf8')
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return undefined
    }
    this.lastStat = seen
    const values = varsSchema.safeParse(parsed)
    if (!values.success) return { problem: `${this.path} does not hold a JSON object of variables` }
    const json = JSON.stringify(values.data)
    if (Buffer.byteLength(json) > MAX_VARS_BYTES)
      return { problem: tooLarge(Buffer.byteLength(json)).message }
    if (json === this.last) return undefined
    this.last = json
    return { values: values.data, json }
  }
}

export function tooLarge(bytes: number): VarsTooLargeError {
  return new VarsTooLargeError(
    `the variables file holds ${bytes} bytes, over the ${MAX_VARS_BYTES}-byte limit; the last replicated values stand`,
  )
}
