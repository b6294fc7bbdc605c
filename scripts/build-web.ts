// Builds dist/web/: the page as one self-contained index.html (script and styles inline, CSP by hash) and its gzip.
import { createHash } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

/**
 * One file, because off loopback every request to the daemon needs the token: the page gets it in its URL
 * (/?token=…) and hands it to its API requests, but a <script src> could not carry it. One request is also the
 * fastest first paint. The source map is separate (/web/app.js.map) and read only by developer tools.
 */
export async function buildWeb(outdir = 'dist/web'): Promise<{ htmlBytes: number; gzipBytes: number }> {
  const result = await build({
    entryPoints: { app: 'web/src/main.tsx' },
    outdir,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome111', 'firefox115', 'safari16.4'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    sourcemap: 'external',
    write: false,
    logLevel: 'warning',
    legalComments: 'none',
  })
  const output = (suffix: string): string => {
    const file = result.outputFiles.find((entry) => entry.path.endsWith(suffix))
    if (file === undefined) throw new Error(`the web build produced no ${suffix}`)
    return file.text
  }
  const script = `${output('app.js').replace(/\n\/\/# sourceMappingURL=.*\n?$/, '')}\n//# sourceMappingURL=/web/app.js.map`
  const style = output('app.css')
  // Inline, `</script` or `</style` would end the element early.
  if (/<\/script/i.test(script) || /<\/style/i.test(style))
    throw new Error('the web bundle contains a closing tag')
  const hash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`
  const csp = [
    "default-src 'none'",
    `script-src ${hash(script)}`,
    `style-src ${hash(style)}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ')
  const template = await readFile('web/index.html', 'utf8')
  const html = template
    .replace('<!-- shoal:csp -->', () => `<meta http-equiv="Content-Security-Policy" content="${csp}">`)
    .replace('<!-- shoal:style -->', () => `<style>${style}</style>`)
    .replace('<!-- shoal:script -->', () => `<script type="module">${script}</script>`)
  await mkdir(outdir, { recursive: true })
  const gzip = gzipSync(html, { level: 9 })
  await writeFile(`${outdir}/index.html`, html)
  await writeFile(`${outdir}/index.html.gz`, gzip)
  await writeFile(`${outdir}/app.js.map`, output('app.js.map'))
  return { htmlBytes: Buffer.byteLength(html), gzipBytes: gzip.length }
}
