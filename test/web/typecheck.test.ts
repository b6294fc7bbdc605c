import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(import.meta.dirname, '../..')

describe('the web page source', () => {
  // The page is bundled by esbuild, which does not check types, and the project's tsconfig has no DOM types: this
  // checks the page against the DOM and against the daemon's API types, so an API change that breaks it fails here.
  it('type-checks under web/tsconfig.json (DOM, preact JSX, the API types)', async () => {
    const tsc = resolve(ROOT, 'node_modules/typescript/bin/tsc')
    const result = await promisify(execFile)(process.execPath, [tsc, '--noEmit', '-p', 'web/tsconfig.json'], {
      cwd: ROOT,
    }).catch((err: { stdout: string; code: number }) => err)
    expect('code' in result ? result.stdout : '').toBe('')
  })
})
