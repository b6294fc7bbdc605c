// A job's log file that keeps the first bytes of its output up to a cap, then says it was cut and drops the rest.
import type { WriteStream } from 'node:fs'
import { Writable } from 'node:stream'

/** The line a log cut at the cap ends with (the exec driver's helper is handed it with each spawn). */
export function logCutNote(maxBytes: number): string {
  return `\n[shoal: log cut at ${maxBytes} bytes (--job-log-max); the rest of the output was discarded]\n`
}

/**
 * Writes through to `file` until `maxBytes` have gone in, then the note, then accepts and drops everything, so
 * whatever feeds it (a container's log stream) is drained and never held up by the cap.
 */
export class CappedLog extends Writable {
  private written = 0
  private cut = false

  constructor(
    private readonly file: WriteStream,
    private readonly maxBytes: number,
  ) {
    super()
    file.on('error', (err) => this.destroy(err))
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.cut) {
      callback()
      return
    }
    const room = this.maxBytes - this.written
    if (chunk.length <= room) {
      this.written += chunk.length
      this.file.write(chunk, callback)
      return
    }
    this.cut = true
    this.written = this.maxBytes
    this.file.write(
      Buffer.concat([chunk.subarray(0, room), Buffer.from(logCutNote(this.maxBytes))]),
      callback,
    )
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.file.end(callback)
  }
}
