// What the TCP listener hides that the owner-only socket shows: the values of job and service environments.
import type { JobView } from '../jobs/index.js'
import type { ServiceView } from '../services/types.js'
import { REDACTED } from './constants.js'

/** An env object with its names kept and every value replaced. */
export function redactedEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(env).map((name) => [name, REDACTED]))
}

export function redactJobView(view: JobView): JobView {
  return { ...view, env: redactedEnv(view.env) }
}

export function redactServiceView(view: ServiceView): ServiceView {
  return { ...view, env: redactedEnv(view.env) }
}

/**
 * A JSON.stringify replacer that redacts every `env` object anywhere in a value (job specs inside `jobs`
 * records, and whatever record kinds carry an environment later). Serialising through it adds no recursion of
 * its own beyond what JSON.stringify does anyway.
 */
export function redactEnvReplacer(key: string, value: unknown): unknown {
  if (key === 'env' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return redactedEnv(value as Record<string, string>)
  }
  return value
}
