// The yamux mend: an established stream sends a window update only once half its receive window is used.
import { StreamState, YamuxStream } from '@libp2p/yamux/stream'
import { describe, expect, it } from 'vitest'
import { mendYamuxWindowUpdates } from '../../src/mesh/yamux-window-fix.js'

/** The stream fields sendWindowUpdate reads, with its frames collected. */
function streamState(consumed: number, state = StreamState.Established) {
  const frames: Array<{ type: number; flag: number; length: number }> = []
  const window = 256 * 1024
  return {
    frames,
    self: {
      state,
      recvWindow: window,
      recvWindowCapacity: window - consumed,
      epochStart: Date.now(),
      streamId: 1,
      maxStreamWindowSize: 16 * 1024 * 1024,
      getRTT: () => -1,
      getSendFlags: () => 0,
      sendFrame: (frame: { type: number; flag: number; length: number }) => frames.push(frame),
    },
  }
}

describe('the yamux window-update mend', () => {
  mendYamuxWindowUpdates()
  const sendWindowUpdate = (YamuxStream.prototype as unknown as { sendWindowUpdate(): void }).sendWindowUpdate

  it('sends no update for a small message on an established stream', () => {
    const { self, frames } = streamState(300)
    sendWindowUpdate.call(self)
    expect(frames).toHaveLength(0)
  })

  it('sends the whole consumed amount once half the window is used', () => {
    const { self, frames } = streamState(128 * 1024)
    sendWindowUpdate.call(self)
    expect(frames).toEqual([expect.objectContaining({ length: 128 * 1024 })])
  })

  it('still answers at once on a stream not yet established (its update carries the flags)', () => {
    const { self, frames } = streamState(300, StreamState.SYNReceived)
    sendWindowUpdate.call(self)
    expect(frames).toHaveLength(1)
  })
})
