// The line protocol of the Perl and Python helpers: length-prefixed NUL-separated requests in, one line per reply out.
import type { HelperReply, HelperRequest } from './spawner-protocol.js'

/** One request as the Perl and Python helpers read it (see spawner-perl.ts for the fields). */
export function encodeLineRequest(request: HelperRequest): Buffer {
  const env = Object.entries(request.env)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name}=${value}`)
  const fields = [
    String(request.req),
    request.file,
    request.cwd,
    request.outputPath,
    String(request.maxBytes),
    request.cutNote,
    String(request.args.length),
    ...request.args,
    ...env,
  ]
  const payload = Buffer.from(fields.join('\0'), 'utf8')
  return Buffer.concat([Buffer.from(`${payload.length}\n`), payload])
}

/** One reply line of the Perl or Python helper; undefined for a line neither writes. */
export function decodeLineReply(line: string): HelperReply | undefined {
  const [type, req, first, ...rest] = line.split(' ')
  const id = Number(req)
  if (!Number.isInteger(id)) return undefined
  if (type === 'spawned') return { req: id, type, pid: Number(first) }
  if (type === 'error') return { req: id, type, code: first, message: rest.join(' ') }
  if (type === 'exit') {
    const signal = rest[0] === undefined || rest[0] === '-' ? null : rest[0]
    return { req: id, type, exitCode: first === '-' ? null : Number(first), signal }
  }
  return undefined
}
