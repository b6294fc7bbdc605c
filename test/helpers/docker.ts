// A private Docker engine for tests: dockerd with its own data and exec roots and socket, vfs, no networking.
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { tarOf } from './registry.js'
import { removeDir } from './temp-dir.js'
import { waitFor } from './wait.js'

export interface TestDockerd {
  socket: string
  /** Runs the docker CLI against this engine. */
  docker(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }>
  stop(): Promise<void>
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: 1_000 }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('error', () => resolve(false))
    req.on('timeout', () => req.destroy())
    req.end()
  })
}

export async function startDockerd(): Promise<TestDockerd> {
  // Short paths: containerd's sockets live under the exec root and unix socket paths are limited to 108 bytes.
  const dir = await mkdtemp('/tmp/shoal-dk-')
  const socket = join(dir, 'docker.sock')
  const child = spawn(
    'dockerd',
    [
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'x'),
      '--pidfile',
      join(dir, 'docker.pid'),
      '--host',
      `unix://${socket}`,
      '--storage-driver=vfs',
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let log = ''
  child.stderr.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await waitFor(
    'dockerd to answer',
    async () => {
      if (child.exitCode !== null) throw new Error(`dockerd exited: ${log}`)
      return ping(socket)
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  )
  return {
    socket,
    docker(args) {
      return new Promise((resolve) => {
        const cli = spawn('docker', ['-H', `unix://${socket}`, ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        let stdout = ''
        let stderr = ''
        cli.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString()
        })
        cli.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString()
        })
        cli.on('exit', (code) => resolve({ code, stdout, stderr }))
      })
    },
    async stop() {
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000))])
      if (child.exitCode === null) child.kill('SIGKILL')
      await exited
      await unmountUnder(dir)
      await removeDir(dir)
    },
  }
}

/**
 * Unmounts what dockerd left mounted under its directories: a host-network container leaves the host's network
 * namespace bind-mounted at <exec-root>/netns/default, which cannot be removed while mounted.
 */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = await readFile('/proc/self/mounts', 'utf8')
  const points = mounts
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((point) => point.startsWith(`${dir}/`))
    .reverse()
  for (const point of points) {
    await new Promise<void>((resolve, reject) => {
      spawn('umount', [point], { stdio: 'ignore' }).once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`umount ${point} exited ${code}`)),
      )
    })
  }
}

/** Imports the host's static busybox, alone in a root file system, into the engine as `ref` (nothing is pulled). */
export async function importBusybox(dockerd: TestDockerd, scratch: string, ref: string): Promise<void> {
  const rootfs = join(scratch, 'rootfs.tar')
  await writeFile(
    rootfs,
    await tarOf([{ name: 'bin/busybox', content: await readFile('/bin/busybox'), mode: 0o755 }]),
  )
  const imported = await dockerd.docker(['import', rootfs, ref])
  if (imported.code !== 0) throw new Error(`docker import failed: ${imported.stderr}`)
}
