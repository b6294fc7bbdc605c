// Service test commands: a process that counts in its variables file.

/** A process that adds one to `count` in its variables file every 100 ms (written by rename, as docs advise). */
export const COUNTER = [
  process.execPath,
  '-e',
  `const fs = require('fs'); const f = process.env.SHOAL_VARS;
   setInterval(() => { const v = JSON.parse(fs.readFileSync(f, 'utf8')); v.count = (v.count ?? 0) + 1;
   fs.writeFileSync(f + '.tmp', JSON.stringify(v)); fs.renameSync(f + '.tmp', f) }, 100)`,
]
