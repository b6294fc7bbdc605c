// Service test helpers: a process that counts in its variables file, and the live processes of a service's instances.
import { readFileSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { processAlive } from './jobs.js'

/** A process that adds one to `count` in its variables file every 100 ms (written by rename, as docs advise). */
export const COUNTER = [
  process.execPath,
  '-e',
  `const fs = require('fs'); const f = process.env.SHOAL_VARS;
   setInterval(() => { const v = JSON.parse(fs.readFileSync(f, 'utf8')); v.count = (v.count ?? 0) + 1;
   fs.writeFileSync(f + '.tmp', JSON.stringify(v)); fs.renameSync(f + '.tmp', f) }, 100)`,
]

/** Live processes running an instance of `service`, pid → slot (by the SHOAL_INSTANCE in their environment). */
export async function instanceProcesses(service: string): Promise<Map<number, string>> {
  const prefix = `SHOAL_INSTANCE=${service}/`
  const found = new Map<number, string>()
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let environ: string
    try {
      environ = readFileSync(`/proc/${entry}/environ`, 'latin1')
    } catch {
      continue
    }
    const instance = environ.split('\0').find((line) => line.startsWith(prefix))
    if (instance !== undefined && processAlive(Number(entry)))
      found.set(Number(entry), instance.slice(prefix.length))
  }
  return found
}
