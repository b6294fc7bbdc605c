// The length-prefix mend: frames decode as before, and an emptied buffer is not handed to the length decoder.
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { describe, expect, it } from 'vitest'
import { mendLengthPrefixedDecoder } from '../../src/mesh/length-prefix-fix.js'

/** Reads a 2-byte big-endian length, as noise's decoder does. */
function uint16(data: { subarray(start?: number, end?: number): Uint8Array }): number {
  const bytes = data.subarray(0, 2)
  return (bytes[0]! << 8) | bytes[1]!
}

/** Noise's framing: a 2-byte big-endian length, then the frame. */
function frame(body: string): Uint8Array {
  const bytes = new TextEncoder().encode(body)
  return new Uint8Array([bytes.length >> 8, bytes.length & 0xff, ...bytes])
}

function decoder() {
  const asked: number[] = []
  const decode = new LengthPrefixedDecoder({
    lengthDecoder: (data) => {
      asked.push(data.byteLength)
      if (data.byteLength < 2) throw new RangeError('Could not decode int16BE')
      return uint16(data)
    },
    encodingLength: () => 2,
  })
  const read = (chunk: Uint8Array) =>
    [...decode.decode(chunk)].map((list) => new TextDecoder().decode(list.subarray()))
  return { read, asked }
}

describe('the length-prefixed decoder mend', () => {
  mendLengthPrefixedDecoder()

  it('yields every whole frame of a chunk and never asks for a length of nothing', () => {
    const { read, asked } = decoder()
    expect(read(new Uint8Array([...frame('probe'), ...frame('gossip')]))).toEqual(['probe', 'gossip'])
    expect(asked).not.toContain(0)
  })

  it('holds a frame split across chunks, the length prefix too, until it is whole', () => {
    const { read, asked } = decoder()
    const bytes = frame('a gossip message')
    expect(read(bytes.subarray(0, 1))).toEqual([])
    expect(read(bytes.subarray(1, 6))).toEqual([])
    expect(read(bytes.subarray(6))).toEqual(['a gossip message'])
    // The one-byte prefix still goes through the length decoder (and its RangeError); the empty buffer does not.
    expect(asked).toEqual([1, 6, bytes.length])
  })

  it('still refuses a frame longer than the limit', () => {
    const decode = new LengthPrefixedDecoder({
      lengthDecoder: (data) => uint16(data),
      encodingLength: () => 2,
      maxDataLength: 4,
    })
    expect(() => [...decode.decode(frame('too long'))]).toThrow('Invalid message length')
  })
})
