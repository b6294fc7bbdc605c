// Registry credentials and transport choices, read from a file (never from the command line, never logged).
import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { InvalidFlagError } from '../errors.js'
import { isLoopbackRegistry } from './reference.js'

const entrySchema = z.strictObject({
  username: z.string().min(1).optional(),
  password: z.string().optional(),
  /** Speak plain HTTP to this registry (loopback registries always may; HTTPS is tried nowhere else). */
  insecure: z.boolean().optional(),
})

const fileSchema = z.strictObject({ registries: z.record(z.string(), entrySchema) })

export interface RegistryCredentials {
  username: string
  password: string
}

/**
 * `<data-dir>/registries.json` (or `--registry-config FILE`, mode 0600 recommended):
 * `{ "registries": { "ghcr.io": { "username": "me", "password": "…" }, "10.0.0.5:5000": { "insecure": true } } }`.
 */
export class RegistryConfig {
  private constructor(private readonly entries: Record<string, z.infer<typeof entrySchema>>) {}

  static empty(): RegistryConfig {
    return new RegistryConfig({})
  }

  static async load(path: string, required: boolean): Promise<RegistryConfig> {
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !required) return RegistryConfig.empty()
      throw new InvalidFlagError(`cannot read the registry config ${path}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      // Not JSON. No cause: JSON.parse's message quotes the text, which may hold passwords.
      throw new InvalidFlagError(`the registry config ${path} is not JSON`)
    }
    const parsed = fileSchema.safeParse(json)
    if (!parsed.success) {
      // The message names the place, never the value: values may be passwords.
      const issue = parsed.error.issues[0]
      throw new InvalidFlagError(`the registry config ${path} is invalid at ${issue?.path.join('.') ?? '?'}`)
    }
    return new RegistryConfig(parsed.data.registries)
  }

  credentialsFor(registry: string): RegistryCredentials | undefined {
    const entry = this.entries[registry]
    if (entry?.username === undefined) return undefined
    return { username: entry.username, password: entry.password ?? '' }
  }

  isInsecureAllowed(registry: string): boolean {
    return this.entries[registry]?.insecure === true
  }

  /** Loopback registries and those marked insecure are spoken to over plain HTTP. */
  isPlainHttp(registry: string): boolean {
    return isLoopbackRegistry(registry) || this.isInsecureAllowed(registry)
  }
}
