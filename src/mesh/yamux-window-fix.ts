// Mends @libp2p/yamux sending a window update for every data frame it receives: one only once half the window is used.
//
// yamux (the spec, go-yamux, hashicorp/yamux) sends a window update when the receiver has consumed at least half
// of its window; the JavaScript muxer sends one after every data frame, however small. For the small messages a
// control plane exchanges (a probe, a gossip message of a few hundred bytes) that doubles the frames on the
// wire, and every frame is a Noise encryption, a pnet encryption and a socket write on each side: measured, a
// quarter of an idle daemon's CPU. Updates that carry a flag (opening or acknowledging a stream) still go at once.
import { StreamState, YamuxStream } from '@libp2p/yamux/stream'

interface WindowState {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate(): void
}

let mended = false

export function mendYamuxWindowUpdates(): void {
  if (mended) return
  mended = true
  const proto = YamuxStream.prototype as unknown as WindowState
  const sendWindowUpdate = proto.sendWindowUpdate
  if (typeof sendWindowUpdate !== 'function') return
  proto.sendWindowUpdate = function (this: WindowState): void {
    // Only an established stream sends no flags; half a window still free needs no update yet.
    const consumed = this.recvWindow - this.recvWindowCapacity
    if (this.state === StreamState.Established && consumed < this.recvWindow / 2) return
    sendWindowUpdate.call(this)
  }
}
