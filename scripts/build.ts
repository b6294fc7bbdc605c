// Builds dist/: the CLI bundled into one small entry (fast start), the daemon as a chunk it loads only for `shoal daemon`.
import { chmod, rm } from 'node:fs/promises'
import { build, type Plugin } from 'esbuild'
import { buildWeb } from './build-web.js'

/** Small packages the CLI needs at every start: bundled, so no module resolution at run time. */
const BUNDLED = new Set(['commander', 'env-paths', 'is-safe-filename'])

/** Every other package stays in node_modules (LevelDB's native prebuilds must load from there). */
const externalPackages: Plugin = {
  name: 'external-packages',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^[^./]/ }, (args) => {
      const name = args.path.startsWith('@')
        ? args.path.split('/').slice(0, 2).join('/')
        : args.path.split('/')[0]!
      return BUNDLED.has(name) ? undefined : { path: args.path, external: true }
    })
  },
}

await rm('dist', { recursive: true, force: true })
await build({
  entryPoints: { shoal: 'cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  chunkNames: 'chunks/[name]-[hash]',
  plugins: [externalPackages],
  // Bundled CommonJS (commander) calls require() for node: built-ins, which ESM lacks.
  banner: {
    js: "import { createRequire as __shoalCreateRequire } from 'node:module'; const require = __shoalCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
})
await chmod('dist/shoal.js', 0o755)
await buildWeb()
