// `shoal daemon --config FILE`: a YAML (or JSON) file whose keys are the daemon's flags; flags on the command line win.
import { readFileSync } from 'node:fs'
import type { Command, Option } from 'commander'
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml'
import { InvalidFlagError } from '../src/errors.js'

/** Flags that only make sense on the command line. */
const NOT_IN_FILE = new Set(['config', 'help'])

/**
 * Sets each option the file names and the command line did not: `listen: [...]` for a repeatable flag,
 * `mdns: false` for `--no-mdns`, `mirror-pull: true` for a switch, a string or number for a value. A key that is
 * no flag, or a value of the wrong shape, is an error naming its line.
 */
export function applyConfigFile(command: Command, file: string): void {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new InvalidFlagError(`--config: cannot read ${file}: ${(err as Error).message}`, { cause: err })
  }
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true })
  const at = (node: Node | null | undefined): string =>
    `${file}:${node?.range == null ? 1 : lines.linePos(node.range[0]).line}`
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!
    throw new InvalidFlagError(
      `${file}:${first.linePos?.[0].line ?? 1}: not YAML: ${first.message.split('\n')[0]}`,
    )
  }
  // Read again (a reload): what the last reading set goes back to its default first, so a key taken out is gone.
  for (const option of command.options) {
    const attribute = option.attributeName()
    if (command.getOptionValueSource(attribute) === 'config') {
      command.setOptionValueWithSource(attribute, option.defaultValue, 'default')
    }
  }
  if (doc.contents === null) return
  if (!isMap(doc.contents))
    throw new InvalidFlagError(`${at(doc.contents)}: expected keys like "name: web-1"`)
  const options = fileOptions(command)
  for (const pair of doc.contents.items) {
    const keyNode = pair.key as Node
    const key = isScalar(keyNode) ? String(keyNode.value) : ''
    const option = options.get(key)
    if (option === undefined) {
      throw new InvalidFlagError(
        `${at(keyNode)}: unknown key "${key}" (keys are the daemon's flags without "--": ${[...options.keys()].join(', ')})`,
      )
    }
    const attribute = option.attributeName()
    if (command.getOptionValueSource(attribute) === 'cli') continue
    command.setOptionValueWithSource(attribute, valueFor(option, key, pair.value as Node, at), 'config')
  }
}

/** Each flag by the key that names it in a file: `--http-port` is `http-port`, `--no-mdns` is `mdns`. */
function fileOptions(command: Command): Map<string, Option> {
  const byKey = new Map<string, Option>()
  for (const option of command.options) {
    const long = option.long?.replace(/^--/, '')
    if (long === undefined) continue
    const key = option.negate ? long.replace(/^no-/, '') : long
    if (!NOT_IN_FILE.has(key)) byKey.set(key, option)
  }
  return byKey
}

function valueFor(option: Option, key: string, node: Node, at: (node: Node) => string): unknown {
  const takesValue = option.required || option.optional
  if (!takesValue) {
    if (!isScalar(node) || typeof node.value !== 'boolean') {
      throw new InvalidFlagError(`${at(node)}: "${key}" is true or false`)
    }
    // A `--no-x` flag stores false when given: `x: false` in the file is that flag.
    return node.value
  }
  const repeatable = Array.isArray(option.defaultValue)
  if (repeatable) {
    // `label: { zone: a }` is `--label zone=a`.
    if (isMap(node)) {
      return node.items.map(
        (pair) => `${scalarText(pair.key as Node, key, at)}=${scalarText(pair.value as Node, key, at)}`,
      )
    }
    const items = isSeq(node) ? node.items : [node]
    return items.map((item) => scalarText(item as Node, key, at))
  }
  return scalarText(node, key, at)
}

function scalarText(node: Node, key: string, at: (node: Node) => string): string {
  if (!isScalar(node) || node.value === null || typeof node.value === 'object') {
    throw new InvalidFlagError(`${at(node)}: "${key}" takes a value such as a string or a number`)
  }
  return String(node.value)
}
