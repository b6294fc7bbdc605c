// Binding the API's listeners: TCP, and the unix socket, owner-only from its first moment.
import { chmod, chown, mkdtemp, rename, rm } from 'node:fs/promises'
import type { Server } from 'node:http'
import { dirname, join } from 'node:path'
import { ListenFailedError } from '../errors.js'

export function listen(server: Server, target: string | { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      const where = typeof target === 'string' ? target : `${target.host}:${target.port}`
      reject(new ListenFailedError(`cannot listen on ${where}: ${err.message}`, { cause: err }))
    }
    server.once('error', onError)
    server.listen(target, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

/**
 * Listens on a unix socket at `socketPath` that nobody but its owner could ever connect to. A socket is created
 * with the umask's mode, so binding in place and chmod-ing after leaves a moment in which others may connect.
 * Instead it is bound inside a fresh directory that mkdtemp makes 0700, made 0600 there, then renamed into
 * place (atomic, and replacing a socket a crashed daemon left). The staged path is no longer than the final one
 * (`.sXXXXXX/s` against `shoal.sock`), so it fits the same 108-byte limit. With `gid` (`--socket-group`) the
 * members of that group may connect too: the socket is given the group and 0660 before it is put in place, so
 * nobody (a client that waits for the socket to answer included) ever finds it owner-only.
 */
export async function listenOwnerOnly(server: Server, socketPath: string, gid?: number): Promise<void> {
  const stagingDir = await mkdtemp(join(dirname(socketPath), '.s'))
  const staged = join(stagingDir, 's')
  try {
    await listen(server, staged)
    await chmod(staged, 0o600)
    if (gid !== undefined) await openToGroup(staged, socketPath, gid)
    await rename(staged, socketPath)
  } catch (err) {
    server.close()
    throw err
  } finally {
    await rm(stagingDir, { recursive: true, force: true })
  }
}

/** Gives group `gid` the staged socket: 0660, that group. */
async function openToGroup(staged: string, socketPath: string, gid: number): Promise<void> {
  try {
    await chown(staged, -1, gid)
    await chmod(staged, 0o660)
  } catch (err) {
    throw new ListenFailedError(
      `cannot give group ${gid} the socket ${socketPath}: ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
}
