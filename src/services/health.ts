// Health checks: the spec's command run beside an exec instance (same directory and environment) or inside its container.
import { execFile } from 'node:child_process'
import type Dockerode from 'dockerode'

export interface HealthResult {
  ok: boolean
  /** The check's output, or why it could not run (cut to a few hundred bytes). */
  output: string
}

const OUTPUT_BYTES = 512

/** Runs the check as a process; a non-zero exit, a signal or the timeout fails it. */
export function checkProcess(
  command: readonly string[],
  options: { cwd: string; env: Record<string, string>; timeoutMs: number },
): Promise<HealthResult> {
  return new Promise((resolve) => {
    execFile(
      command[0]!,
      command.slice(1),
      {
        cwd: options.cwd,
        env: options.env,
        timeout: options.timeoutMs,
        maxBuffer: 64 * 1024,
        killSignal: 'SIGKILL',
      },
      (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trim().slice(-OUTPUT_BYTES)
        if (err === null) resolve({ ok: true, output })
        else if ((err as { killed?: boolean }).killed)
          resolve({ ok: false, output: `timed out after ${options.timeoutMs} ms` })
        else resolve({ ok: false, output: output || err.message.slice(0, OUTPUT_BYTES) })
      },
    )
  })
}

/** Runs the check inside the container (`docker exec`); its exit code decides. */
export async function checkContainer(
  container: Dockerode.Container,
  command: readonly string[],
  timeoutMs: number,
): Promise<HealthResult> {
  const run = async (): Promise<HealthResult> => {
    const exec = await container.exec({ Cmd: [...command], AttachStdout: true, AttachStderr: true })
    const stream = await exec.start({ hijack: true, stdin: false })
    const chunks: Buffer[] = []
    stream.on('data', (chunk: Buffer) => chunks.push(chunk))
    await new Promise<void>((resolve) => {
      stream.on('end', () => resolve())
      stream.on('close', () => resolve())
      stream.on('error', () => resolve())
    })
    const info = await exec.inspect()
    const output = demux(Buffer.concat(chunks)).trim().slice(-OUTPUT_BYTES)
    return { ok: info.ExitCode === 0, output }
  }
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<HealthResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, output: `timed out after ${timeoutMs} ms` }), timeoutMs)
  })
  try {
    return await Promise.race([
      run().catch((err: Error) => ({ ok: false, output: `could not run the check: ${err.message}` })),
      timeout,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** The text of a multiplexed exec stream: frames of an 8-byte header (stream, 0, 0, 0, length) and a payload. */
function demux(bytes: Buffer): string {
  const parts: Buffer[] = []
  let at = 0
  while (at + 8 <= bytes.length) {
    const length = bytes.readUInt32BE(at + 4)
    parts.push(bytes.subarray(at + 8, at + 8 + length))
    at += 8 + length
  }
  return Buffer.concat(parts).toString('utf8')
}
