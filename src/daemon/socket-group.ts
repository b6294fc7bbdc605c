// `--socket-group`: the group whose members may use the CLI against a system daemon (a name or a numeric gid).
import { readFileSync } from 'node:fs'
import { InvalidFlagError } from '../errors.js'

/** The gid of `group` (a name looked up in /etc/group, or a number); a group that does not exist is refused. */
export function resolveGroup(group: string, groupFile = '/etc/group'): number {
  if (/^\d+$/.test(group)) return Number(group)
  let text = ''
  try {
    text = readFileSync(groupFile, 'utf8')
  } catch (err) {
    throw new InvalidFlagError(`--socket-group: cannot read ${groupFile} to find "${group}"`, { cause: err })
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':')
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid)
  }
  throw new InvalidFlagError(
    `--socket-group: no group named "${group}" in ${groupFile} (give a name or a gid)`,
  )
}
