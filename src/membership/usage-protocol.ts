// The usage protocol (/shoal/usage/1.0.0): one stream per question, "what is your load and free memory now?",
// answered with the node's latest sample. Usage is not gossiped (it would be news every few seconds on a busy
// machine, to every node): whoever shows it asks for it.
import { lpStream } from '@libp2p/utils'
import { z } from 'zod'
import { UsageProtocolError } from '../errors.js'
import type { Mesh, Stream } from '../mesh/index.js'
import { USAGE_PROTOCOL } from './constants.js'

/** A question is `{}`; an answer a few dozen bytes. */
const MAX_USAGE_FRAME_BYTES = 512

const uint = z.number().int().nonnegative()
const usageSchema = z.strictObject({
  load: z.tuple([z.number().nonnegative(), z.number().nonnegative(), z.number().nonnegative()]),
  memoryFree: uint,
  diskFree: uint,
  /** When the node sampled these (its wall clock, ms since the epoch). */
  at: uint,
})

/** What a node uses now, as it last sampled it. */
export type Usage = z.infer<typeof usageSchema>

/** Answers usage questions with `current()`. */
export async function serveUsage(
  mesh: Pick<Mesh, 'handle'>,
  current: () => Usage | undefined,
): Promise<void> {
  await mesh.handle(
    USAGE_PROTOCOL,
    async (stream: Stream) => {
      const lp = lpStream(stream, { maxDataLength: MAX_USAGE_FRAME_BYTES })
      await lp.read()
      const usage = current()
      if (usage === undefined) throw new UsageProtocolError('this node has not sampled its usage yet')
      await lp.write(new TextEncoder().encode(JSON.stringify(usage)))
      await stream.close()
    },
    // Each question is its own short stream; a page and a CLI asking at once need a few.
    { maxInboundStreams: 8 },
  )
}

/** Asks `peer` for its usage; throws if it does not answer a well-formed frame within `timeoutMs` (dial included). */
export async function askUsage(
  mesh: Pick<Mesh, 'openStream'>,
  peer: string,
  timeoutMs: number,
): Promise<Usage> {
  const signal = AbortSignal.timeout(timeoutMs)
  const stream = await mesh.openStream(peer, USAGE_PROTOCOL, { signal })
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_USAGE_FRAME_BYTES })
    await lp.write(new TextEncoder().encode('{}'), { signal })
    const bytes = await lp.read({ signal })
    let parsed: unknown
    try {
      parsed = JSON.parse(new TextDecoder().decode(bytes.subarray()))
    } catch (err) {
      throw new UsageProtocolError(`${peer} answered a usage request with something other than JSON`, {
        cause: err,
      })
    }
    const usage = usageSchema.safeParse(parsed)
    if (!usage.success)
      throw new UsageProtocolError(`${peer} answered a usage request with a malformed frame`)
    void stream.close().catch(() => undefined)
    return usage.data
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}
