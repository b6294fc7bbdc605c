// An exec job's working dir on the node that runs it: inside <data-dir>/jobs/<id>/work, checked again here with symlinks resolved.
import { mkdir, realpath } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import { JobRefusedError } from '../errors.js'
import { workdirEscape } from './policy.js'

/**
 * Creates and returns the working dir of an exec attempt: `<jobDir>/work`, or the spec's workdir inside it.
 * A spec record can come from any member, not only through a submission that checked it, and an earlier attempt
 * may have left a symlink in the job's directory: a path that leaves it, as written or once resolved, is refused.
 */
export async function prepareWorkdir(jobDir: string, workdir: string | null): Promise<string> {
  const root = join(jobDir, 'work')
  const escaping = workdir === null ? undefined : workdirEscape(workdir)
  if (escaping !== undefined) throw new JobRefusedError(escaping)
  await makeJobDir(jobDir)
  await makeJobDir(root)
  if (workdir === null) return root
  const target = join(root, workdir)
  const realRoot = await realpath(root)
  // The part that exists already must not lead out (mkdir would follow a symlink in it), nor what mkdir made.
  await confined(await deepestExisting(target), realRoot, workdir)
  await mkdir(target, { recursive: true })
  await confined(target, realRoot, workdir)
  return target
}

/**
 * Makes a directory whose parent usually exists, as `mkdir -p` does. A recursive mkdir first tries the whole path
 * and climbs on ENOENT, so a new job's two directories cost three calls where two plain ones do (half the CPU on
 * a busy node's ext4, measured: docs/jobs.md); the recursive form only when the plain one cannot do it.
 */
export async function makeJobDir(path: string): Promise<void> {
  try {
    await mkdir(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    // ENOENT: a parent is missing; EEXIST: there already, which the recursive form accepts if it is a directory.
    if (code !== 'ENOENT' && code !== 'EEXIST') throw err
    await mkdir(path, { recursive: true })
  }
}

async function confined(path: string, realRoot: string, workdir: string): Promise<void> {
  const real = await realpath(path)
  const inside = relative(realRoot, real)
  if (inside === '' || (!inside.startsWith(`..${sep}`) && inside !== '..' && !inside.startsWith(sep))) return
  throw new JobRefusedError(`workdir "${workdir}" resolves to ${real}, outside the job's directory`)
}

/** `path`, or its nearest ancestor that exists. */
async function deepestExisting(path: string): Promise<string> {
  for (let at = path; ; at = dirname(at)) {
    try {
      await realpath(at)
      return at
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(at) === at) throw err
    }
  }
}
