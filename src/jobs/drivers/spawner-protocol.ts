// What the daemon asks of a spawning helper and what the helper answers, whichever language it is written in.

/** One child to start. */
export interface HelperRequest {
  req: number
  file: string
  args: readonly string[]
  cwd: string
  env: Record<string, string | undefined>
  outputPath: string
  maxBytes: number
  /** Written to the log where the output is cut at maxBytes. */
  cutNote: string
}

export type HelperReply =
  | { req: number; type: 'spawned'; pid: number }
  | { req: number; type: 'error'; code: string | undefined; message: string }
  | { req: number; type: 'exit'; exitCode: number | null; signal: string | null }
