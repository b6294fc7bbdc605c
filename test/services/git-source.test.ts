// Git sources against a real repository served over HTTP on loopback: refs, checkouts, failures and credentials.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { createServer as createHttpServer } from 'node:http'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { inspect, promisify } from 'node:util'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GitSourceError } from '../../src/errors.js'
import {
  createGitSource,
  type GitFailureKind,
  gitCredentialsFileFor,
  gitFailureKind,
  loadGitCredentials,
  resolveRef,
  syncCheckout,
} from '../../src/services/git/index.js'
import { GitServer } from '../helpers/git-server.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const run = promisify(execFile)

/** The error a promise rejects with, which must be a GitSourceError of that kind with a one-line message. */
async function gitFailure(promise: Promise<unknown>, kind: GitFailureKind): Promise<GitSourceError> {
  const err = await promise.then(
    () => expect.unreachable('expected a git failure'),
    (error: unknown) => error,
  )
  expect(err).toBeInstanceOf(GitSourceError)
  expect(err).toMatchObject({ code: 'SHOAL_GIT_FAILED' })
  expect(gitFailureKind(err), (err as Error).message).toBe(kind)
  expect((err as Error).message).not.toContain('\n')
  return err as GitSourceError
}

async function headOf(dir: string): Promise<{ commit: string; detached: boolean }> {
  const { stdout } = await run('git', ['-C', dir, 'rev-parse', 'HEAD'])
  const symbolic = await run('git', ['-C', dir, 'symbolic-ref', '-q', 'HEAD']).then(
    () => true,
    () => false,
  )
  return { commit: stdout.trim(), detached: !symbolic }
}

/** A port on loopback where nothing listens. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

let dir: string

beforeAll(async () => {
  dir = await makeTempDir('shoal-git-test-')
})
afterAll(async () => {
  await removeDir(dir)
})

describe('a public repository', () => {
  let server: GitServer
  let first: string
  let onDev: string

  beforeAll(async () => {
    server = await GitServer.start()
    first = await server.commit({ 'app.sh': 'echo one\n', README: 'hello\n' })
    onDev = await server.commit({ 'app.sh': 'echo dev\n' }, 'dev')
    await server.tag('v1', first, true)
    await server.tag('light', onDev)
  })
  afterAll(async () => {
    await server.stop()
  })

  it('resolves a branch, a full ref, an annotated and a lightweight tag, and the remote HEAD', async () => {
    expect(await resolveRef(server.url, 'main')).toBe(first)
    expect(await resolveRef(server.url, 'dev')).toBe(onDev)
    expect(await resolveRef(server.url, 'refs/heads/dev')).toBe(onDev)
    expect(await resolveRef(server.url, 'v1')).toBe(first)
    expect(await server.revParse('refs/tags/v1')).toBe(first)
    expect(await resolveRef(server.url, 'light')).toBe(onDev)
    expect(await resolveRef(server.url, null)).toBe(first)
    expect(await resolveRef(server.url, 'HEAD')).toBe(first)
    expect(await resolveRef(server.bareDir, 'dev')).toBe(onDev)
  })

  it('returns a full commit id as it is, without asking the remote', async () => {
    const before = server.requests.length
    const unknown = 'AB'.repeat(20)
    expect(await resolveRef(server.url, unknown)).toBe(unknown.toLowerCase())
    expect(await resolveRef(`http://127.0.0.1:${await closedPort()}/x.git`, onDev)).toBe(onDev)
    expect(server.requests.length).toBe(before)
  })

  it('checks out the tip of a ref, moves to a new commit on sync, and discards local changes except kept files', async () => {
    const checkout = join(dir, 'moves')
    expect(await syncCheckout(server.url, { ref: 'main', commit: null }, checkout)).toBe(first)
    expect(await headOf(checkout)).toEqual({ commit: first, detached: true })
    expect(await readFile(join(checkout, 'app.sh'), 'utf8')).toBe('echo one\n')

    // What an instance leaves behind: an edited tracked file, untracked and ignored output, its variables file.
    await writeFile(join(checkout, 'app.sh'), 'edited\n')
    await writeFile(join(checkout, 'untracked.txt'), 'x')
    await mkdir(join(checkout, 'build'))
    await writeFile(join(checkout, 'build', 'out.bin'), 'x')
    await writeFile(join(checkout, 'vars.json'), '{"n":3}')
    await writeFile(join(checkout, '.git', 'shoal-marker'), 'the same clone')

    const second = await server.commit({ 'app.sh': 'echo two\n', '.gitignore': 'build/\n' })
    expect(
      await syncCheckout(server.url, { ref: 'main', commit: null }, checkout, { keep: ['vars.json'] }),
    ).toBe(second)
    expect(await headOf(checkout)).toEqual({ commit: second, detached: true })
    expect(await readFile(join(checkout, 'app.sh'), 'utf8')).toBe('echo two\n')
    await expect(stat(join(checkout, 'untracked.txt'))).rejects.toMatchObject({ code: 'ENOENT' })
    await expect(stat(join(checkout, 'build'))).rejects.toMatchObject({ code: 'ENOENT' })
    expect(await readFile(join(checkout, 'vars.json'), 'utf8')).toBe('{"n":3}')
    expect(await readFile(join(checkout, '.git', 'shoal-marker'), 'utf8')).toBe('the same clone')

    // Back to a named commit (already fetched), then to one on another branch (fetched by id).
    expect(await syncCheckout(server.url, { ref: 'main', commit: first }, checkout)).toBe(first)
    expect(await readFile(join(checkout, 'app.sh'), 'utf8')).toBe('echo one\n')
    expect(await syncCheckout(server.url, { ref: null, commit: onDev }, checkout)).toBe(onDev)
    expect(await headOf(checkout)).toEqual({ commit: onDev, detached: true })
    expect(await readFile(join(checkout, '.git', 'shoal-marker'), 'utf8')).toBe('the same clone')
  })

  it('runs no hook the checkout holds and ignores GIT_* variables of the daemon', async () => {
    const checkout = join(dir, 'hooked')
    await syncCheckout(server.url, { ref: 'main', commit: null }, checkout)
    const ran = join(dir, 'hook-ran')
    for (const hook of ['post-checkout', 'reference-transaction', 'post-index-change']) {
      await writeFile(join(checkout, '.git', 'hooks', hook), `#!/bin/sh\ntouch ${ran}\n`)
      await chmod(join(checkout, '.git', 'hooks', hook), 0o755)
    }
    const saved = { ...process.env }
    Object.assign(process.env, {
      GIT_DIR: join(dir, 'elsewhere'),
      GIT_WORK_TREE: join(dir, 'elsewhere'),
      GIT_CONFIG_PARAMETERS: "'http.extraHeader'='X-Leak: yes' 'protocol.http.allow'='never'",
    })
    try {
      expect(await syncCheckout(server.url, { ref: 'dev', commit: null }, checkout)).toBe(onDev)
    } finally {
      for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_CONFIG_PARAMETERS']) {
        if (saved[name] === undefined) delete process.env[name]
        else process.env[name] = saved[name]
      }
    }
    await expect(stat(ran)).rejects.toMatchObject({ code: 'ENOENT' })
    await expect(stat(join(dir, 'elsewhere'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('replaces a directory that is not a clone of the URL', async () => {
    const notAClone = join(dir, 'not-a-clone')
    await mkdir(notAClone)
    await writeFile(join(notAClone, 'junk'), 'x')
    expect(await syncCheckout(server.url, { ref: 'v1', commit: null }, notAClone)).toBe(first)
    await expect(stat(join(notAClone, 'junk'))).rejects.toMatchObject({ code: 'ENOENT' })

    const other = await GitServer.start({ name: 'other' })
    try {
      const elsewhere = await other.commit({ 'other.txt': 'other\n' })
      expect(await syncCheckout(other.url, { ref: null, commit: null }, notAClone)).toBe(elsewhere)
      const { stdout } = await run('git', ['-C', notAClone, 'config', '--get', 'remote.origin.url'])
      expect(stdout.trim()).toBe(other.url)
      await expect(stat(join(notAClone, 'app.sh'))).rejects.toMatchObject({ code: 'ENOENT' })
    } finally {
      await other.stop()
    }
  })

  it('fails with a clear reason for a missing ref, a missing commit and a missing repository', async () => {
    const missingRef = await gitFailure(resolveRef(server.url, 'no-such-branch'), 'ref-not-found')
    expect(missingRef.message).toContain('no-such-branch')
    await gitFailure(
      syncCheckout(server.url, { ref: 'no-such-branch', commit: null }, join(dir, 'r')),
      'ref-not-found',
    )
    const missingCommit = 'c0ffee'.repeat(6).padEnd(40, '0')
    const err = await gitFailure(
      syncCheckout(server.url, { ref: 'main', commit: missingCommit }, join(dir, 'c')),
      'commit-not-found',
    )
    expect(err.message).toContain(missingCommit)
    await gitFailure(resolveRef(server.url.replace('project.git', 'nope.git'), null), 'not-found')
  })

  it('refuses a URL that starts with "-" and a ref that is no ref name, running nothing', async () => {
    const before = server.requests.length
    const target = join(dir, 'refused')
    await gitFailure(resolveRef(`--upload-pack=touch ${target}`, null), 'invalid')
    await gitFailure(syncCheckout('-u/bin/false', { ref: null, commit: null }, target), 'invalid')
    await gitFailure(resolveRef('ext::sh -c touch% /tmp/x', null), 'invalid')
    await gitFailure(resolveRef(server.url, '--exec=/bin/false'), 'invalid')
    await gitFailure(syncCheckout(server.url, { ref: null, commit: 'main' }, target), 'invalid')
    await expect(stat(target)).rejects.toMatchObject({ code: 'ENOENT' })
    expect(server.requests.length).toBe(before)
  })
})

it('checks out a commit no ref points at from a server that sends only advertised commits', async () => {
  const old = await GitServer.start({ protocolV2: false })
  try {
    const first = await old.commit({ 'a.txt': 'one\n' })
    const second = await old.commit({ 'a.txt': 'two\n' })
    const checkout = join(dir, 'v0')
    expect(await syncCheckout(old.url, { ref: 'main', commit: first }, checkout)).toBe(first)
    expect(await readFile(join(checkout, 'a.txt'), 'utf8')).toBe('one\n')
    expect(await syncCheckout(old.url, { ref: 'main', commit: null }, checkout)).toBe(second)
    await gitFailure(
      syncCheckout(old.url, { ref: 'main', commit: 'd'.repeat(40) }, checkout),
      'commit-not-found',
    )
  } finally {
    await old.stop()
  }
})

it('reports the remote HEAD of an empty repository as a missing ref', async () => {
  const empty = await GitServer.start()
  try {
    await gitFailure(resolveRef(empty.url, null), 'ref-not-found')
  } finally {
    await empty.stop()
  }
})

it('fails with "could not connect" where nothing listens', async () => {
  const url = `http://127.0.0.1:${await closedPort()}/project.git`
  const err = await gitFailure(resolveRef(url, 'main'), 'unreachable')
  expect(err.message).toContain(url)
  await gitFailure(syncCheckout(url, { ref: 'main', commit: null }, join(dir, 'unreachable')), 'unreachable')
  await gitFailure(
    syncCheckout(url, { ref: null, commit: 'a'.repeat(40) }, join(dir, 'unreachable')),
    'unreachable',
  )
})

describe('a server that accepts connections and never answers', () => {
  let silent: Server
  let url: string
  const sockets = new Set<Socket>()

  beforeAll(async () => {
    silent = createServer((socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.resume() // read (and drop) the request, so that the client's close is seen
    })
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(silent.address() as { port: number }).port}/project.git`
  })
  afterAll(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => silent.close(resolve))
  })

  it('kills git and the helper holding the connection after the timeout', async () => {
    await gitFailure(resolveRef(url, null, { timeoutMs: 300 }), 'timeout')
    // git-remote-http, not git itself, holds the socket: it closes only if the whole process group was killed.
    await waitFor('the connection of the killed git to close', () => sockets.size === 0)
  })

  it('kills git when the caller aborts', async () => {
    const controller = new AbortController()
    const pending = resolveRef(url, null, { signal: controller.signal })
    // Abort once git is connected: the server has seen the connection.
    while (sockets.size === 0) await new Promise((resolve) => setTimeout(resolve, 10))
    controller.abort()
    await gitFailure(pending, 'aborted')
  })
})

describe('a private repository', () => {
  const password = `pw-${randomBytes(12).toString('hex')}`
  const wrongPassword = `wrong-${randomBytes(12).toString('hex')}`
  let server: GitServer
  let commit: string
  const logLines: string[] = []
  const log = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) })

  beforeAll(async () => {
    server = await GitServer.start({ auth: { username: 'alice', password } })
    commit = await server.commit({ 'secret.txt': 'private\n' })
  })
  afterAll(async () => {
    await server.stop()
  })

  async function credentialsFile(name: string, text: string, mode = 0o600): Promise<string> {
    const file = join(dir, name)
    await writeFile(file, text, { mode })
    return file
  }

  it('fails with "authentication failed" without credentials, or with wrong ones', async () => {
    await gitFailure(resolveRef(server.url, null, { log }), 'auth')
    const wrong = await loadGitCredentials(
      await credentialsFile('wrong.yaml', server.credentialsYaml().replace(password, wrongPassword)),
    )
    const err = await gitFailure(resolveRef(server.url, null, { credentials: wrong, log }), 'auth')
    expect(err.message).not.toContain(wrongPassword)
    const checkout = join(dir, 'private-wrong')
    const failed = await gitFailure(
      syncCheckout(server.url, { ref: null, commit }, checkout, { credentials: wrong, log }),
      'auth',
    )
    expect(failed.message).not.toContain(wrongPassword)
    expect(logLines.join('')).not.toContain(wrongPassword)
  })

  it('gives credentials only to the host they are for', async () => {
    const otherHost = await loadGitCredentials(
      await credentialsFile('other.yaml', server.credentialsYaml().replace('127.0.0.1', 'localhost')),
    )
    expect(otherHost.keys).toHaveLength(1)
    await gitFailure(resolveRef(server.url, null, { credentials: otherHost }), 'auth')
  })

  it('works with the credentials file, and the password is in no message, log line or file git wrote', async () => {
    const file = await credentialsFile('git-credentials.yaml', server.credentialsYaml())
    const credentials = await loadGitCredentials(file)
    expect(await resolveRef(server.url, 'main', { credentials, log })).toBe(commit)
    const checkout = join(dir, 'private')
    expect(
      await syncCheckout(server.url, { ref: 'main', commit: null }, checkout, { credentials, log }),
    ).toBe(commit)
    expect(await readFile(join(checkout, 'secret.txt'), 'utf8')).toBe('private\n')

    const next = await server.commit({ 'secret.txt': 'private two\n' })
    expect(
      await syncCheckout(server.url, { ref: 'main', commit: null }, checkout, { credentials, log }),
    ).toBe(next)
    await gitFailure(resolveRef(server.url, 'missing', { credentials, log }), 'ref-not-found')

    expect(logLines.length).toBeGreaterThan(5)
    expect(logLines.join('')).not.toContain(password)
    expect(await readFile(join(checkout, '.git', 'config'), 'utf8')).not.toContain(password)
    expect(JSON.stringify({ credentials })).not.toContain(password)
    expect(inspect(credentials, { depth: 5, showHidden: true })).not.toContain(password)
    expect(server.requests.some((request) => request.status === 200)).toBe(true)
  })

  it('gives no credentials to a host the remote redirects to', async () => {
    const redirect = createHttpServer((req, res) => {
      res.writeHead(302, {
        Location: `${server.url.replace('127.0.0.1', 'localhost')}${req.url?.replace('/project.git', '')}`,
      })
      res.end()
    })
    await new Promise<void>((resolve) => redirect.listen(0, '127.0.0.1', resolve))
    try {
      const redirectHost = `127.0.0.1:${(redirect.address() as { port: number }).port}`
      const file = await credentialsFile(
        'redirected.yaml',
        `"${redirectHost}": { username: alice, password: ${JSON.stringify(password)} }\n`,
      )
      const credentials = await loadGitCredentials(file)
      const before = server.requests.length
      await gitFailure(resolveRef(`http://${redirectHost}/project.git`, null, { credentials }), 'auth')
      // The redirect was followed (the server was asked) and refused every request: no password went with it.
      const asked = server.requests.slice(before)
      expect(asked.length).toBeGreaterThan(0)
      expect(asked.every((request) => request.status === 401)).toBe(true)
    } finally {
      redirect.closeAllConnections()
      await new Promise((resolve) => redirect.close(resolve))
    }
  })

  it("serves a daemon from its data directory's credentials file, read again after it was unusable", async () => {
    const dataDir = join(dir, 'daemon-data')
    await mkdir(dataDir)
    const file = join(dataDir, 'git-credentials.yaml')
    await writeFile(file, 'not: [yaml\n', { mode: 0o600 })
    const source = createGitSource({ dataDir, log })
    const broken = await gitFailure(source.resolveRef(server.url, null), 'invalid')
    expect(broken.message).toContain(file)
    await writeFile(file, server.credentialsYaml(), { mode: 0o600 })
    expect(await source.resolveRef(server.url, 'main')).toBe(await server.revParse('main'))
    const checkout = join(dir, 'from-source')
    expect(await source.syncCheckout(server.url, { ref: 'main', commit: null }, checkout)).toBe(
      await server.revParse('main'),
    )
  })

  it('takes credentials from JSON as well, by URL prefix, with a token', async () => {
    const json = JSON.stringify({
      'http://127.0.0.1:1/': { username: 'nobody', password: 'not-this-one' },
      [server.url.replace('/project.git', '/')]: { username: 'alice', token: password },
    })
    const credentials = await loadGitCredentials(await credentialsFile('git-credentials.json', json))
    expect(await resolveRef(server.url, 'main', { credentials })).toBe(await server.revParse('main'))
  })
})

describe('the credentials file', () => {
  it('is optional, and read from the data directory when no flag names one', async () => {
    expect((await loadGitCredentials(undefined)).keys).toEqual([])
    const dataDir = join(dir, 'data-dir')
    await mkdir(dataDir)
    expect(await gitCredentialsFileFor(dataDir, undefined)).toBeUndefined()
    expect(await gitCredentialsFileFor(dataDir, '/etc/shoal/git.yaml')).toBe('/etc/shoal/git.yaml')
    await writeFile(join(dataDir, 'git-credentials.yaml'), 'example.com: { username: a, token: t }\n', {
      mode: 0o600,
    })
    const file = await gitCredentialsFileFor(dataDir, undefined)
    expect(file).toBe(join(dataDir, 'git-credentials.yaml'))
    expect((await loadGitCredentials(file)).keys).toEqual(['example.com'])
  })

  it('is refused when others may read it, missing, not YAML or incomplete, quoting no value', async () => {
    const secret = `s-${randomBytes(8).toString('hex')}`
    const write = async (name: string, text: string, mode = 0o600) => {
      const file = join(dir, name)
      await writeFile(file, text, { mode })
      return file
    }
    const cases = [
      await write('open.yaml', `example.com: { username: a, password: ${secret} }\n`, 0o644),
      join(dir, 'absent.yaml'),
      await write('broken.yaml', `example.com: { username: a, password: ${secret}\n  : [\n`),
      await write('no-user.yaml', `example.com: { password: ${secret} }\n`),
      await write('both.yaml', `example.com: { username: a, password: ${secret}, token: ${secret} }\n`),
      await write('extra.yaml', `example.com: { username: a, password: ${secret}, note: ${secret} }\n`),
      await write('list.yaml', `- ${secret}\n`),
      await write('bad-key.yaml', `"ftp://example.com/": { username: a, password: ${secret} }\n`),
      await write('userinfo-key.yaml', `"https://a:${secret}@example.com/": { username: a, password: x }\n`),
      await write(
        'line-break.json',
        JSON.stringify({ 'example.com': { username: 'a', password: `${secret}\nx` } }),
      ),
    ]
    for (const file of cases) {
      const err = await loadGitCredentials(file).then(
        () => expect.unreachable(`${file} was accepted`),
        (error: unknown) => error as Error,
      )
      expect(err, file).toMatchObject({ code: 'SHOAL_INVALID_FLAG' })
      expect(err.message).toContain(file)
      expect(err.message).not.toContain(secret)
    }
  })
})
