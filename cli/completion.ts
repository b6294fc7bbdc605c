// `shoal completion bash|zsh`: a completion script generated from the command tree, so it never lags the CLI.
import type { Command } from 'commander'
import { UsageError } from '../src/errors.js'

export const SHELLS = ['bash', 'zsh'] as const

/** Each command path ("", "job", "job submit") with the words that may follow it: subcommands, then options. */
function table(root: Command): Map<string, string[]> {
  const words = new Map<string, string[]>()
  const walk = (command: Command, path: string): void => {
    const subcommands = command.commands.map((sub) => sub.name())
    const options = command.options.flatMap((option) => [option.long, option.short]).filter(Boolean)
    words.set(path, [...subcommands, ...(options as string[]), '--help'])
    for (const sub of command.commands) walk(sub, path === '' ? sub.name() : `${path} ${sub.name()}`)
  }
  walk(root, '')
  return words
}

function bash(root: Command): string {
  const words = table(root)
  const cases = [...words].map(([path, words]) => `    "${path}") words="${words.join(' ')}" ;;`).join('\n')
  return `# bash completion for shoal: source <(shoal completion bash)
_shoal() {
  local cur path="" word words i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    [[ "$word" == -* ]] && continue
    case "\${path:+$path }$word" in
${[...words.keys()]
  .filter((path) => path !== '')
  .map((path) => `      "${path}") path="${path}" ;;`)
  .join('\n')}
    esac
  done
  case "$path" in
${cases}
    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _shoal shoal
`
}

function zsh(root: Command): string {
  // zsh runs bash completion functions through bashcompinit.
  return `#compdef shoal
# zsh completion for shoal: source <(shoal completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bash(root)}`
}

export function completionScript(root: Command, shell: string): string {
  if (shell === 'bash') return bash(root)
  if (shell === 'zsh') return zsh(root)
  throw new UsageError(`completion is for ${SHELLS.join(' or ')}, not "${shell}"`)
}
