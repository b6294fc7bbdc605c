// The parts of a work spec that jobs and services take alike: labels, sizes, durations and resources, as sent and as stored.
import { z } from 'zod'
import type { ShoalErrorClass } from '../errors.js'
import { LABEL_KEY, parseDuration, parseSize } from '../util/parse.js'
import { DEFAULT_CPU_MILLIS } from './constants.js'

/**
 * Text a process is given (an argument, an environment value, a working directory): the kernel ends such
 * strings at the first NUL, so a NUL could only cut them short, and the spawner refuses them.
 */
export function processText(maxLength?: number) {
  const text = maxLength === undefined ? z.string() : z.string().max(maxLength)
  return text.refine((value) => !value.includes('\0'), 'may not contain a NUL character')
}

const label = z.string().regex(LABEL_KEY, 'keys start with a letter or digit and use [A-Za-z0-9._/-]')
/** Tags, constraints: up to 64 labels. */
export const labelsInput = z
  .record(label, z.string().max(256))
  .refine((value) => Object.keys(value).length <= 64, 'at most 64 entries')
/** Bytes, as a number or a size such as `512M`. */
export const sizeInput = z.union([z.number().int().nonnegative(), z.string()])
/** Milliseconds, as a number or a duration such as `30s`. */
export const durationInput = z.union([z.number().int().positive(), z.string()])
export const resourcesInput = z.strictObject({
  cpu: z.number().positive().max(1024).optional(),
  memory: sizeInput.optional(),
  disk: sizeInput.optional(),
  gpu: z.number().int().nonnegative().max(64).optional(),
})

/** CPU in thousandths of a core; memory and disk in bytes. */
export interface Resources {
  cpuMillis: number
  memory: number
  disk: number
  gpu: number
}

/** Reads sizes and durations of one spec, naming it (`where`) and failing with its kind of error. */
export class SpecReader {
  constructor(
    private readonly where: string,
    private readonly error: ShoalErrorClass,
  ) {}

  resources(input: z.infer<typeof resourcesInput> | undefined): Resources {
    return {
      cpuMillis: Math.max(1, Math.round((input?.cpu ?? DEFAULT_CPU_MILLIS / 1000) * 1000)),
      memory: this.size(input?.memory, 'resources.memory'),
      disk: this.size(input?.disk, 'resources.disk'),
      gpu: input?.gpu ?? 0,
    }
  }

  size(value: number | string | undefined, field: string): number {
    if (value === undefined) return 0
    if (typeof value === 'number') return value
    return parseSize(value, `${this.where}: ${field}`, this.error)
  }

  /** Milliseconds, longer than 0. */
  duration(value: number | string, field: string): number {
    if (typeof value === 'number') return value
    const ms = parseDuration(value, `${this.where}: ${field}`, this.error)
    if (ms <= 0) throw new this.error(`${this.where}: ${field} must be longer than 0`)
    return ms
  }
}
