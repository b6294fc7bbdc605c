// Runs inside a lab host: `ping <registry>` checks it answers; `push <registry> <repo> <tag> <layer bytes…>` builds and pushes a test image and prints it
// as JSON; `fetch <registry> <repo> <digest…>` downloads blobs as a plain client would, hashing them.
import '../src/polyfill.js'
import { createHash } from 'node:crypto'
import { pushTestImage } from '../test/helpers/registry.js'

const [command, registry, repository, ...rest] = process.argv.slice(2)
if (command === 'push') {
  const [tag, ...sizes] = rest
  const image = await pushTestImage(registry!, repository!, tag!, sizes.map(Number))
  console.log(JSON.stringify(image))
} else if (command === 'ping') {
  const res = await fetch(`http://${registry}/v2/`)
  process.exit(res.status === 200 ? 0 : 1)
} else if (command === 'fetch') {
  let total = 0
  await Promise.all(
    rest.map(async (digest) => {
      const res = await fetch(`http://${registry}/v2/${repository}/blobs/${digest}`)
      const hash = createHash('sha256')
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        hash.update(chunk)
        total += chunk.length
      }
      if (`sha256:${hash.digest('hex')}` !== digest) throw new Error(`digest mismatch for ${digest}`)
    }),
  )
  console.log(JSON.stringify({ bytes: total }))
} else {
  console.error('usage: lab-origin.ts push|fetch …')
  process.exit(1)
}
