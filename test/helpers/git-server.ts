// A real git repository made by a test and served over smart HTTP on loopback by `git http-backend` (CGI), optionally behind basic auth.
import { execFile, spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { makeTempDir, removeDir } from './temp-dir.js'

const run = promisify(execFile)

export interface GitServerInit {
  /** Repository name in the URL (`/<name>.git`). @default 'project' */
  name?: string
  /** Branch HEAD names. @default 'main' */
  defaultBranch?: string
  /** Requests without these basic-auth credentials get 401. @default none: the repository is public */
  auth?: { username: string; password: string }
  /**
   * Speak git's protocol v2 when the client asks for it. False keeps the server at v0, which (like many older
   * servers) refuses to send a commit by id that no ref advertises.
   * @default true
   */
  protocolV2?: boolean
}

/** Test identity for commits, and no user or system config read. */
const GIT_ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: '/nonexistent',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'shoal test',
  GIT_AUTHOR_EMAIL: 'test@shoal.invalid',
  GIT_COMMITTER_NAME: 'shoal test',
  GIT_COMMITTER_EMAIL: 'test@shoal.invalid',
  LC_ALL: 'C',
}

/**
 * One bare repository in a temp dir, changed through a work tree beside it (`commit`, `tag`) and served at
 * `url` over HTTP. The URL never carries the credentials: clients must bring them (`credentialsYaml()`).
 */
export class GitServer {
  readonly auth: { username: string; password: string } | undefined
  /** HTTP requests answered, with the status each got (401s included). */
  readonly requests: { method: string; path: string; status: number }[] = []
  private readonly name: string
  private readonly defaultBranch: string
  private readonly protocolV2: boolean
  private server: Server | undefined
  private root = ''
  private port = 0
  private readonly backends = new Set<ReturnType<typeof spawn>>()

  constructor(init: GitServerInit = {}) {
    this.name = init.name ?? 'project'
    this.defaultBranch = init.defaultBranch ?? 'main'
    this.auth = init.auth
    this.protocolV2 = init.protocolV2 ?? true
  }

  static async start(init: GitServerInit = {}): Promise<GitServer> {
    const server = new GitServer(init)
    await server.start()
    return server
  }

  /** The repository's URL, without credentials. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/${this.name}.git`
  }

  /** Where the bare repository lives (for tests that look at it directly). */
  get bareDir(): string {
    return join(this.root, 'repos', `${this.name}.git`)
  }

  private get workDir(): string {
    return join(this.root, 'work')
  }

  async start(): Promise<void> {
    if (this.server !== undefined) return
    this.root = await makeTempDir('shoal-git-')
    await run('git', ['init', '-q', '--bare', '-b', this.defaultBranch, '--', this.bareDir], { env: GIT_ENV })
    await run('git', ['init', '-q', '-b', this.defaultBranch, '--', this.workDir], { env: GIT_ENV })
    const server = createServer((req, res) => this.serve(req, res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    this.port = (server.address() as AddressInfo).port
    this.server = server
  }

  async stop(): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    for (const child of this.backends) child.kill('SIGKILL')
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await removeDir(this.root)
  }

  /**
   * Writes `files` (path → content; null deletes) in the work tree on `branch` (made from the current commit
   * if new), commits them and pushes the branch. Returns the new commit's sha.
   */
  async commit(
    files: Record<string, string | null>,
    branch = this.defaultBranch,
    message = 'change',
  ): Promise<string> {
    const { stdout: branches } = await this.git('branch', '--list', '--format=%(refname:short)')
    const exists = branches.split('\n').includes(branch)
    const hasCommits = branches.trim() !== ''
    if (!hasCommits) await this.git('checkout', '-q', '-B', branch)
    else await this.git('checkout', '-q', ...(exists ? [branch] : ['-b', branch]), '--')
    for (const [path, content] of Object.entries(files)) {
      const file = join(this.workDir, path)
      if (content === null) {
        await this.git('rm', '-q', '--', path)
        continue
      }
      await mkdir(dirname(file), { recursive: true })
      await writeFile(file, content)
    }
    await this.git('add', '-A')
    await this.git('commit', '-q', '--allow-empty', '-m', message)
    const sha = (await this.git('rev-parse', 'HEAD')).stdout.trim()
    await this.push(`+refs/heads/${branch}:refs/heads/${branch}`)
    return sha
  }

  /** Tags `target` (a commit sha or branch) as `name` and pushes the tag; annotated tags get their own object. */
  async tag(name: string, target: string, annotated = false): Promise<void> {
    await this.git('tag', '-f', ...(annotated ? ['-a', '-m', `tag ${name}`] : []), '--', name, target)
    await this.push(`+refs/tags/${name}:refs/tags/${name}`)
  }

  /** The sha of `ref` in the served repository (peeled to a commit). */
  async revParse(ref: string): Promise<string> {
    const { stdout } = await run(
      'git',
      ['--git-dir', this.bareDir, 'rev-parse', '--verify', `${ref}^{commit}`],
      {
        env: GIT_ENV,
      },
    )
    return stdout.trim()
  }

  /** A credentials file (YAML) that grants access to this server, as `loadGitCredentials` reads it. */
  credentialsYaml(): string {
    if (this.auth === undefined) throw new Error('this git server takes no credentials')
    return [
      `"127.0.0.1:${this.port}":`,
      `  username: ${JSON.stringify(this.auth.username)}`,
      `  password: ${JSON.stringify(this.auth.password)}`,
      '',
    ].join('\n')
  }

  private async push(refspec: string): Promise<void> {
    await this.git('push', '-q', '--', this.bareDir, refspec)
  }

  private git(...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return run('git', ['-C', this.workDir, ...args], { env: GIT_ENV })
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const record = (status: number) =>
      this.requests.push({ method: req.method ?? '', path: url.pathname, status })
    if (this.auth !== undefined && !this.authorized(req.headers.authorization)) {
      record(401)
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="shoal test"' }).end('unauthorized\n')
      req.resume()
      return
    }
    const env: Record<string, string> = {
      ...GIT_ENV,
      GIT_PROJECT_ROOT: join(this.root, 'repos'),
      GIT_HTTP_EXPORT_ALL: '1',
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
    }
    if (this.auth !== undefined) env.REMOTE_USER = this.auth.username
    if (req.headers['content-length'] !== undefined) env.CONTENT_LENGTH = req.headers['content-length']
    if (req.headers['content-encoding'] !== undefined)
      env.HTTP_CONTENT_ENCODING = req.headers['content-encoding']
    const protocol = req.headers['git-protocol']
    if (typeof protocol === 'string' && this.protocolV2) env.GIT_PROTOCOL = protocol
    const backend = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'ignore'] })
    this.backends.add(backend)
    backend.once('exit', () => this.backends.delete(backend))
    backend.stdin.on('error', () => {}) // the backend may answer (an error) before reading the whole body
    req.pipe(backend.stdin)
    forwardCgiResponse(backend.stdout, res, record)
  }

  private authorized(header: string | undefined): boolean {
    if (this.auth === undefined) return true
    if (header === undefined || !header.startsWith('Basic ')) return false
    const [user, ...rest] = Buffer.from(header.slice(6), 'base64').toString().split(':')
    return user === this.auth.username && rest.join(':') === this.auth.password
  }
}

/** Turns a CGI answer (headers, a blank line, the body) into the HTTP response. */
function forwardCgiResponse(
  output: NodeJS.ReadableStream,
  res: ServerResponse,
  record: (status: number) => void,
): void {
  let head = Buffer.alloc(0)
  let headersDone = false
  output.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk)
      return
    }
    head = Buffer.concat([head, chunk])
    const end = head.indexOf('\r\n\r\n')
    if (end < 0) return
    headersDone = true
    let status = 200
    for (const line of head.subarray(0, end).toString().split('\r\n')) {
      const colon = line.indexOf(':')
      const key = line.slice(0, colon).trim()
      const value = line.slice(colon + 1).trim()
      if (key.toLowerCase() === 'status') status = Number.parseInt(value, 10)
      else res.setHeader(key, value)
    }
    record(status)
    res.writeHead(status)
    res.write(head.subarray(end + 4))
  })
  output.on('end', () => {
    if (!headersDone) {
      record(502)
      res.writeHead(502).end('git http-backend gave no answer\n')
      return
    }
    res.end()
  })
}
