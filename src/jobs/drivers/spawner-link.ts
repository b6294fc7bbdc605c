// Starts a spawning helper (Perl where there is a perl, else Node) and carries requests to it and replies back.
import { type ChildProcess, spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import type { Socket } from 'node:net'
import { delimiter, join } from 'node:path'
import { createInterface } from 'node:readline'
import { LOG_CLOSE_GRACE_MS } from '../constants.js'
import { nodeHelperSource } from './spawner-node.js'
import { decodePerlReply, encodePerlRequest, perlHelperSource } from './spawner-perl.js'
import type { HelperReply, HelperRequest } from './spawner-protocol.js'

/** Which helper runs the children: `perl` forks cheaply; `node` is the fallback where there is no perl. */
export type HelperKind = 'perl' | 'node'

export interface HelperLink {
  readonly process: ChildProcess
  send(request: HelperRequest): void
  /** The daemon's side ends: the helper leaves once its children have ended. */
  leave(): void
}

/** The perl on PATH, if any (looked up once). */
let perlPath: string | null | undefined

function findPerl(): string | null {
  if (perlPath !== undefined) return perlPath
  perlPath = null
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const candidate = join(dir, 'perl')
    try {
      accessSync(candidate, constants.X_OK)
      perlPath = candidate
      break
    } catch {
      // Not in this directory.
    }
  }
  return perlPath
}

/**
 * The helper a spawner uses by default: Perl when there is one. `SHOAL_JOB_SPAWNER=node` (or `perl`) in the
 * daemon's environment chooses instead: a way round a platform where the Perl helper misbehaves, and how the
 * benchmark compares the two.
 */
export function defaultHelperKind(): HelperKind {
  const chosen = process.env.SHOAL_JOB_SPAWNER
  if (chosen === 'node' || chosen === 'perl') return chosen
  return findPerl() === null ? 'node' : 'perl'
}

export function startHelper(kind: HelperKind, onReply: (reply: HelperReply) => void): HelperLink {
  return kind === 'perl' ? startPerlHelper(onReply) : startNodeHelper(onReply)
}

/**
 * The helper's source goes in its environment, not its arguments: renamed `shoal-job-spawner`, a process keeps
 * the length of its original command line, and `ps` would show that name followed by kilobytes of blanks.
 */
const SOURCE_VARIABLE = 'SHOAL_SPAWNER_SOURCE'

function startPerlHelper(onReply: (reply: HelperReply) => void): HelperLink {
  const boot = `eval $ENV{${SOURCE_VARIABLE}}; die $@ if $@`
  const helper = spawn(findPerl() ?? 'perl', ['-e', boot], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { [SOURCE_VARIABLE]: perlHelperSource(LOG_CLOSE_GRACE_MS) },
  })
  let open = true
  helper.stdin!.on('error', () => {
    // EPIPE: the helper has gone; its exit fails what was waiting.
    open = false
  })
  createInterface({ input: helper.stdout! }).on('line', (line) => {
    const reply = decodePerlReply(line)
    if (reply !== undefined) onReply(reply)
  })
  helper.once('exit', () => {
    open = false
  })
  // The daemon's own life does not depend on the helper.
  helper.unref()
  ;(helper.stdin as unknown as Socket).unref()
  ;(helper.stdout as unknown as Socket).unref()
  return {
    process: helper,
    send: (request) => {
      if (open) helper.stdin!.write(encodePerlRequest(request))
    },
    leave: () => {
      open = false
      helper.stdin!.end()
    },
  }
}

function startNodeHelper(onReply: (reply: HelperReply) => void): HelperLink {
  const helper = spawn(process.execPath, ['-e', `eval(process.env.${SOURCE_VARIABLE})`], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { [SOURCE_VARIABLE]: nodeHelperSource(LOG_CLOSE_GRACE_MS) },
  })
  helper.on('message', (reply: HelperReply) => onReply(reply))
  helper.unref()
  helper.channel?.unref()
  return {
    process: helper,
    send: (request) => {
      if (helper.connected) helper.send(request)
    },
    leave: () => {
      if (helper.connected) helper.disconnect()
    },
  }
}
