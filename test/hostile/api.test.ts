import { Agent, request } from 'node:http'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseRawAnswer, rawExchange } from '../helpers/api-requests.js'
import { documentedErrorCodes } from '../helpers/error-table.js'
import { cleanupDaemons, type DaemonProcess, spawnDaemon } from '../helpers/processes.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'

/** What a hostile request got back: enough to judge it, read in full unless it is a stream. */
interface Answer {
  status: number
  contentType: string
  body: string
}

type Target = { name: 'socket'; socketPath: string } | { name: 'tcp'; host: string; port: number }

interface HostileRequest {
  method: string
  path: string
  headers: Record<string, string>
  body?: Buffer | string
}

const DOCUMENTED = new Set(documentedErrorCodes().keys())
/** The distribution API's own error codes, which the /v2 mirror answers in its clients' format. */
const REGISTRY_CODES = new Set([
  'MANIFEST_UNKNOWN',
  'BLOB_UNKNOWN',
  'TOOMANYREQUESTS',
  'NAME_UNKNOWN',
  'UNSUPPORTED',
])
/** A request the daemon leaves unanswered this long counts as a hang. */
const ANSWER_WITHIN_MS = 15_000

/**
 * One keep-alive connection per target, as browsers and the CLI use: the server may answer before it has read a
 * body (a 405, a 413) and then discards the rest, where a `Connection: close` client would see its writes fail.
 */
const agents = new Map<string, Agent>()
function agentFor(target: Target): Agent {
  let agent = agents.get(target.name)
  if (agent === undefined) {
    agent = new Agent({ keepAlive: true, maxSockets: 1 })
    agents.set(target.name, agent)
  }
  return agent
}

function send(target: Target, { method, path, headers, body }: HostileRequest): Promise<Answer> {
  const where =
    target.name === 'socket' ? { socketPath: target.socketPath } : { host: target.host, port: target.port }
  return new Promise((resolve, reject) => {
    const req = request(
      { ...where, method, path, headers, agent: agentFor(target), setHost: !('host' in headers) },
      (res) => {
        const status = res.statusCode ?? 0
        const contentType = String(res.headers['content-type'] ?? '')
        // Streams (events, followed logs, pull progress) never end on their own: their start is the answer.
        if (status < 400 && !contentType.startsWith('application/json')) {
          res.destroy()
          resolve({ status, contentType, body: '' })
          return
        }
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => resolve({ status, contentType, body: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', reject)
      },
    )
    req.setTimeout(ANSWER_WITHIN_MS, () => req.destroy(new Error(`no answer to ${method} ${path} in time`)))
    req.on('error', reject)
    req.end(body)
  })
}

/** Throws (failing the property) unless an answer is a success or a documented error without internals. */
function judge(request: HostileRequest, answer: Answer): void {
  const what = `${request.method} ${request.path} → ${answer.status} ${answer.body.slice(0, 300)}`
  if (answer.status < 400) return
  if (answer.status >= 600 || answer.status === 500) throw new Error(`bad status: ${what}`)
  if (/\n\s+at /.test(answer.body)) throw new Error(`a stack trace: ${what}`)
  // A HEAD answer has no body by definition: its status and type are all there is to judge.
  if (request.method === 'HEAD') {
    if (!answer.contentType.startsWith('application/json')) throw new Error(`not JSON: ${what}`)
    return
  }
  let body: { error?: { code?: unknown; message?: unknown }; errors?: Array<{ code?: unknown }> }
  try {
    body = JSON.parse(answer.body) as typeof body
  } catch (err) {
    throw new Error(`not JSON: ${what}`, { cause: err })
  }
  // The /v2 mirror answers in the distribution API's shape, with its codes or shoal's own.
  const registryCode = body.errors?.[0]?.code
  if (request.path.startsWith('/v2') && typeof registryCode === 'string') {
    if (REGISTRY_CODES.has(registryCode) || DOCUMENTED.has(registryCode)) return
    throw new Error(`an undocumented registry error code: ${what}`)
  }
  const code = body.error?.code
  if (typeof code !== 'string' || typeof body.error?.message !== 'string' || !DOCUMENTED.has(code)) {
    throw new Error(`not a documented { error: { code, message } }: ${what}`)
  }
  if (code === 'SHOAL_INTERNAL') throw new Error(`an internal error: ${what}`)
}

// Generators. Strings are kept to what an HTTP client can put on the wire (latin1 without controls).
const wireChar = fc.integer({ min: 0x21, max: 0xff }).map((code) => String.fromCharCode(code))
const wireString = fc.string({ unit: wireChar, maxLength: 40 })
const hostileSegment = fc.oneof(
  wireString.filter((text) => !text.includes('?') && !text.includes('#')),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
  fc.constantFrom(
    '..',
    '.',
    '%',
    '%E0%A4%A',
    '%00',
    '%2F',
    '%2e%2e',
    '%ZZ',
    '%C0%AF',
    '~',
    'j',
    'jffff',
    'sha256:',
    '',
  ),
  fc.integer({ min: 1_000, max: 9_000 }).map((n) => 'a'.repeat(n)),
)
const templates = [
  ['v1', 'status'],
  ['v1', 'nodes'],
  ['v1', 'nodes', '*'],
  ['v1', 'coordinator'],
  ['v1', 'images'],
  ['v1', 'images', 'pull'],
  ['v1', 'layers'],
  ['v1', 'jobs'],
  ['v1', 'jobs', '*'],
  ['v1', 'jobs', '*', 'logs'],
  ['v1', 'jobs', '*', 'cancel'],
  ['v1', 'jobs', '*', 'retry'],
  ['v1', 'jobs', 'wait'],
  ['v1', 'stats'],
  ['v1', 'events'],
  ['metrics'],
  ['web', '*'],
  ['v2', '*', 'manifests', '*'],
  ['v2', '*', 'blobs', '*'],
  ['*'],
  ['*', '*', '*'],
]
const hostilePath = fc
  .tuple(fc.constantFrom(...templates), fc.array(hostileSegment, { minLength: 3, maxLength: 3 }))
  .map(
    ([template, segments]) =>
      `/${template.map((part, i) => (part === '*' ? segments[i % 3]! : part)).join('/')}`,
  )
const queryValue = fc.oneof(
  wireString.map((text) => text.replaceAll('&', '%26').replaceAll('#', '%23')),
  fc.constantFrom(
    '-1',
    '1e309',
    '9'.repeat(400),
    'NaN',
    '0x10',
    '1.5',
    '',
    '%',
    'running',
    'k=v',
    '=',
    '2024-13-45T99:99',
  ),
)
const queryKey = fc.oneof(
  fc.constantFrom(
    'state',
    'tag',
    'node',
    'limit',
    'offset',
    'attempt',
    'all',
    'since',
    'kinds',
    'follow',
    'ref',
    'token',
  ),
  fc.constantFrom('__proto__', 'constructor', 'prototype', '__proto__[x]'),
)
const hostileQuery = fc
  .array(fc.tuple(queryKey, queryValue), { maxLength: 5 })
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`))
const hostileMethod = fc.constantFrom(
  'GET',
  'GET',
  'GET',
  'HEAD',
  'POST',
  'DELETE',
  'PUT',
  'PATCH',
  'OPTIONS',
  'PROPFIND',
)

const POLLUTING_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf']
const FIELD_KEYS = [
  'driver',
  'command',
  'env',
  'image',
  'resources',
  'tags',
  'constraints',
  'timeout',
  'after',
  'ids',
  'timeoutMs',
]
const HUGE_NUMBERS = [
  '1e309',
  '-1e309',
  '123456789012345678901234567890',
  '1e-400',
  '-0',
  '9007199254740993',
  '0.1e2',
]
/** A JSON object text with exactly these entries (JSON.stringify would drop or mangle `__proto__`). */
const objectText = (entries: Array<[string, string]>): string =>
  `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`
const jsonText = fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'null')
const hugeNumber = fc.constantFrom(...HUGE_NUMBERS)
const deepNesting = fc
  .tuple(fc.integer({ min: 1_000, max: 100_000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
  )
const fieldValue = fc.oneof(
  jsonText,
  hugeNumber,
  deepNesting.filter((text) => text.length < 20_000),
)
const hostileObject = fc
  .array(fc.tuple(fc.constantFrom(...POLLUTING_KEYS, ...FIELD_KEYS), fieldValue), { maxLength: 6 })
  .map(objectText)
/** A job spec that would be valid, with some fields replaced (it never runs: the daemon does not coordinate). */
const nearlyAJob = fc
  .array(fc.tuple(fc.constantFrom(...POLLUTING_KEYS, ...FIELD_KEYS), fieldValue), { maxLength: 3 })
  .map((changes) =>
    objectText([
      ['driver', '"exec"'],
      ['command', '["true"]'],
      ['constraints', '{"never-matches":"x"}'],
      ...changes,
    ]),
  )
const hostileBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  jsonText,
  hostileObject,
  nearlyAJob,
  nearlyAJob.map((job) => `[${job},${job}]`),
  hugeNumber,
  deepNesting,
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.constant(''),
)
const bodyEndpoint = fc.constantFrom(
  '/v1/jobs',
  '/v1/jobs/wait',
  '/v1/images/pull',
  '/v1/jobs/jffffffffffffffff/cancel',
  '/v1/jobs/x/retry',
)
const hostHeader = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('localhost', 'evil.example', '127.0.0.1.evil', '[::1]', '[', ':', 'localhost:99999', ''),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 30 }),
)
const originHeader = fc.option(
  fc.constantFrom('null', 'http://evil.example', 'http://localhost', 'garbage'),
  { nil: undefined },
)

describe('hostile input to the local API', () => {
  let daemon: DaemonProcess
  let dataDir: string
  let targets: Target[]

  beforeAll(async () => {
    dataDir = await makeTempDir('shoal-hostile-api-')
    daemon = await spawnDaemon({
      name: 'hostile-api',
      dataDir,
      // Nothing a request submits ever runs (no coordinator), and no image is ever touched (no engine).
      args: ['--no-coordinator', '--docker-socket', join(dataDir, 'no-docker.sock')],
    })
    const http = new URL(daemon.status.httpUrl)
    targets = [
      { name: 'socket', socketPath: join(dataDir, 'shoal.sock') },
      { name: 'tcp', host: http.hostname, port: Number(http.port) },
    ]
  })
  afterAll(async () => {
    for (const agent of agents.values()) agent.destroy()
    await cleanupDaemons()
    await removeDir(dataDir)
  })

  const stillAnswers = async (): Promise<void> => {
    expect(daemon.child.exitCode).toBeNull()
    for (const target of targets) {
      const answer = await send(target, { method: 'GET', path: '/v1/status', headers: {} })
      expect(answer.status, target.name).toBe(200)
    }
  }

  it('answers generated request bodies with successes or documented errors, and keeps running', async () => {
    await fc.assert(
      fc.asyncProperty(bodyEndpoint, hostileBody, fc.boolean(), async (path, body, json) => {
        const headers: Record<string, string> = json ? { 'content-type': 'application/json' } : {}
        const hostile = { method: 'POST', path, headers, body }
        for (const target of targets) judge(hostile, await send(target, hostile))
      }),
      {
        numRuns: 2_000,
        examples: [
          // Prototype pollution through a job spec and a wait request.
          ['/v1/jobs', '{"__proto__":{"polluted":1},"driver":"exec","command":["true"]}', true],
          ['/v1/jobs/wait', '{"constructor":{"prototype":{"x":1}},"ids":["a"],"timeoutMs":1}', true],
          // Numbers past what a double holds, and nesting past any stack.
          ['/v1/jobs', '{"driver":"exec","resources":{"cpu":1e309}}', true],
          ['/v1/jobs/wait', '{"ids":["a"],"timeoutMs":1e309}', true],
          ['/v1/jobs', `${'['.repeat(100_000)}${']'.repeat(100_000)}`, true],
          // A body over its endpoint's limit (4 KiB) is answered 413, not reset mid-upload.
          ['/v1/images/pull', `{"ref":"${'a'.repeat(100_000)}"}`, true],
        ],
      },
    )
    await stillAnswers()
  })

  it('answers generated paths, query strings and headers with successes or documented errors', async () => {
    await fc.assert(
      fc.asyncProperty(
        hostileMethod,
        hostilePath,
        hostileQuery,
        hostHeader,
        originHeader,
        async (method, path, query, host, origin) => {
          const headers: Record<string, string> = {}
          if (host !== undefined) headers.host = host
          if (origin !== undefined) headers.origin = origin
          const hostile = { method, path: `${path}${query}`, headers }
          for (const target of targets) judge(hostile, await send(target, hostile))
        },
      ),
      {
        numRuns: 3_000,
        examples: [
          // A malformed percent-escape in a path parameter.
          ['GET', '/v1/nodes/%E0%A4%A', '', undefined, undefined],
          ['GET', '/v1/jobs/%', '', undefined, undefined],
          ['GET', '/v1/jobs/j/logs', '?attempt=1e309', undefined, undefined],
          // Headers too large on a HEAD request: a 431 without a body, then the next request on a new connection.
          ['HEAD', `/v1/jobs/${'a'.repeat(20_000)}`, '', undefined, undefined],
        ],
      },
    )
    await stillAnswers()
  })
})

describe('malformed HTTP on the local API', () => {
  let daemon: DaemonProcess
  let dataDir: string
  let tcp: { host: string; port: number }
  let socket: { socketPath: string }

  beforeAll(async () => {
    dataDir = await makeTempDir('shoal-raw-api-')
    daemon = await spawnDaemon({
      name: 'raw-api',
      dataDir,
      args: ['--no-coordinator', '--docker-socket', join(dataDir, 'no-docker.sock')],
    })
    const http = new URL(daemon.status.httpUrl)
    tcp = { host: http.hostname, port: Number(http.port) }
    socket = { socketPath: join(dataDir, 'shoal.sock') }
  })
  afterAll(async () => {
    await cleanupDaemons()
    await removeDir(dataDir)
  })

  const expectJsonError = (raw: string, status: number, code: string): void => {
    const answer = parseRawAnswer(raw)
    expect(answer.status).toBe(status)
    expect((JSON.parse(answer.body) as { error: { code: string } }).error.code).toBe(code)
  }

  it('answers a malformed request line or header with a JSON 400 and closes', async () => {
    const malformed = [
      'GARBAGE\r\n\r\n',
      'GET / HTTP/9.9\r\nHost: localhost\r\n\r\n',
      'GET /v1/status HTTP/1.1\r\nHost: localhost\r\nno colon here\r\n\r\n',
      'GET /v1/status HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n',
      'GET /v1/status HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
      '\x00\x01\x02\x03\r\n\r\n',
    ]
    for (const target of [tcp, socket]) {
      for (const bytes of malformed)
        expectJsonError(await rawExchange(target, bytes), 400, 'SHOAL_BAD_REQUEST')
    }
  })

  it('answers a request whose URL is not a URL with a JSON 400 (not a crash)', async () => {
    for (const target of [tcp, socket]) {
      const raw = await rawExchange(
        target,
        'GET http://[ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
      )
      expectJsonError(raw, 400, 'SHOAL_BAD_REQUEST')
    }
    expect(daemon.child.exitCode).toBeNull()
  })

  it('answers headers over 16 KiB with a JSON 431', async () => {
    const huge = `GET /v1/status HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`
    for (const target of [tcp, socket]) {
      expectJsonError(await rawExchange(target, huge), 431, 'SHOAL_HEADERS_TOO_LARGE')
    }
  })

  it('closes a connection whose headers never finish (slowloris) with a JSON 408', async () => {
    const unfinished = 'GET /v1/status HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1\r\n'
    const answers = await Promise.all([tcp, socket].map((target) => rawExchange(target, unfinished)))
    for (const raw of answers) expectJsonError(raw, 408, 'SHOAL_REQUEST_TIMEOUT')
  }, 10_000)

  it('refuses an empty Host on TCP with a JSON 421', async () => {
    const raw = await rawExchange(tcp, 'GET /v1/status HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n')
    expectJsonError(raw, 421, 'SHOAL_BAD_HOST')
  })
})
