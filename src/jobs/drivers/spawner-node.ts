// The spawning helper in Node: the fallback where there is no perl (see spawner-perl.ts); one V8 process per fork.

/**
 * The helper: spawns each child in its own process group (detached) and reports its pid, then its exit. Its
 * stdout and stderr come through pipes into the log file, up to `maxBytes`: past that the log says it was cut
 * and the rest is read and dropped, so a chatty job neither fills the disk nor blocks on a full pipe. When the
 * child exits, what is left of its group is killed (as the exec driver does anyway) so the pipes close; the
 * exit is reported once the log has every byte (or after LOG_CLOSE_GRACE_MS if a process outside the group still
 * holds a pipe). When the daemon goes (its channel closes) the helper stays until its children have ended, so
 * their output keeps reaching their logs; a restarted daemon stops the ones that moved.
 * Plain CommonJS that `node -e` evaluates from the helper's environment (spawner-link.ts), so the same code
 * runs from the sources (tests) and from the bundle; it names itself `shoal-job-spawner` in `ps`.
 */
export function nodeHelperSource(logCloseGraceMs: number): string {
  return `
process.title = 'shoal-job-spawner'
const { spawn } = require('node:child_process')
const { openSync, closeSync, createWriteStream } = require('node:fs')
const LOG_CLOSE_GRACE_MS = ${logCloseGraceMs}
let children = 0
let leaving = false
const send = (message) => {
  if (process.connected) process.send(message)
}
const ended = () => {
  children--
  if (leaving && children === 0) process.exit(0)
}
process.on('disconnect', () => {
  leaving = true
  if (children === 0) process.exit(0)
})
process.on('message', (m) => {
  let fd
  let child
  try {
    fd = openSync(m.outputPath, 'a')
  } catch (err) {
    send({ req: m.req, type: 'error', code: 'ELOG', message: 'cannot open the log file: ' + err.message })
    return
  }
  try {
    child = spawn(m.file, m.args, { cwd: m.cwd, env: m.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  } catch (err) {
    closeSync(fd)
    send({ req: m.req, type: 'error', code: err.code, message: err.message })
    return
  }
  children++
  const log = createWriteStream('', { fd })
  let written = 0
  let cut = false
  let logFailed = false
  // A log that cannot be written (a full disk) costs the job its log, not its run: its output is dropped.
  log.on('error', () => {
    logFailed = true
    cut = true
    child.stdout.resume()
    child.stderr.resume()
  })
  const take = (source) => (chunk) => {
    if (cut) return
    const room = m.maxBytes - written
    if (chunk.length > room) {
      cut = true
      if (room > 0) log.write(chunk.subarray(0, room))
      log.write(m.cutNote)
      // Dropped from here on: a paused pipe would block the job.
      child.stdout.resume()
      child.stderr.resume()
      return
    }
    written += chunk.length
    if (!log.write(chunk)) {
      source.pause()
      log.once('drain', () => source.resume())
    }
  }
  child.stdout.on('data', take(child.stdout))
  child.stderr.on('data', take(child.stderr))
  child.once('spawn', () => send({ req: m.req, type: 'spawned', pid: child.pid }))
  child.once('error', (err) => {
    if (child.pid !== undefined) return
    log.end()
    ended()
    send({ req: m.req, type: 'error', code: err.code, message: err.message })
  })
  child.once('exit', (exitCode, signal) => {
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch (err) {
      // ESRCH: nothing of its group is left.
      if (err.code !== 'ESRCH') throw err
    }
    const grace = setTimeout(() => {
      child.stdout.destroy()
      child.stderr.destroy()
      finish()
    }, LOG_CLOSE_GRACE_MS)
    let finished = false
    const finish = () => {
      if (finished) return
      finished = true
      clearTimeout(grace)
      const report = () => {
        send({ req: m.req, type: 'exit', exitCode, signal })
        ended()
      }
      if (logFailed) report()
      else log.end(report)
    }
    child.once('close', finish)
  })
})
`
}
