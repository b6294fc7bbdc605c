// Mends a leak in `xsalsa20` (the cipher of @libp2p/pnet) that grows its WebAssembly memory without bound and crashes the daemon.
//
// All XSalsa20 instances share one WebAssembly memory, and each keeps a view of it. When one instance grows
// the memory, every other instance's view is detached (length 0), so its next update "grows" the memory by its
// whole working size again. With several connections under load the memory grows by megabytes per chunk until
// `WebAssembly.Memory.grow(): Maximum memory size exceeded` is thrown on a socket event and the process dies
// (found by bench/jobs.ts). The fix refreshes a detached view before growing. The upstream package is
// unmaintained since 2019; the reproduction is in test/mesh/xsalsa20-fix.test.ts.
import xsalsa20 from 'xsalsa20'

interface WasmXor {
  _memory: { length: number }
  realloc(size: number): void
}

let mended = false

export function mendXsalsa20(): void {
  if (mended) return
  mended = true
  const probe = xsalsa20(new Uint8Array(24), new Uint8Array(32)) as unknown as { _xor: WasmXor | undefined }
  const proto = probe._xor === undefined ? undefined : (Object.getPrototypeOf(probe._xor) as WasmXor)
  if (proto === undefined || typeof proto.realloc !== 'function') return // the pure-JS fallback has no memory
  const realloc = proto.realloc
  // The newest view of the shared memory any instance took: valid until the memory next grows.
  let latest: { length: number } | undefined
  proto.realloc = function (this: WasmXor, size: number): void {
    if (this._memory.length === 0) {
      // A detached view: growing by `size - 0` would add `size` bytes again. Take the newest view if it is
      // still attached; else grow by nothing, which re-reads the current buffer. Growing by nothing every time
      // detached every other instance's view in turn, so with many connections nearly every update grew the
      // memory by 0 and allocated a new buffer (4 % of the CPU of 100 in-process nodes).
      if (latest !== undefined && latest.length > 0) this._memory = latest
      else {
        this._memory = { length: size }
        realloc.call(this, size)
        latest = this._memory
      }
      if (size < this._memory.length) return
    }
    realloc.call(this, size)
    latest = this._memory
  }
}
