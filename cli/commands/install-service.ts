// `shoal install-service`: writes a systemd unit that runs this shoal as a system daemon, and says how to start it.
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { InvalidFlagError } from '../../src/errors.js'

export interface InstallServiceOptions {
  dataDir: string
  config?: string
  user: string
  /** Members of this group may use the CLI (`--socket-group`). */
  socketGroup?: string
  unitDir: string
  print?: boolean
}

/** Where a system daemon keeps its data, as the FHS and systemd's StateDirectory= expect. */
export const SYSTEM_DATA_DIR = '/var/lib/shoal'

/** The unit: restarts on failure, stops with SIGTERM (the daemon leaves the mesh cleanly) within 20 s. */
export function systemdUnit(options: InstallServiceOptions, command: readonly string[]): string {
  const args = [...command, 'daemon', '--data-dir', options.dataDir, '--log-format', 'json']
  if (options.config !== undefined) args.push('--config', resolve(options.config))
  if (options.socketGroup !== undefined) args.push('--socket-group', options.socketGroup)
  const stateDirectory = options.dataDir.startsWith('/var/lib/')
    ? options.dataDir.slice('/var/lib/'.length)
    : ''
  return `# shoal mesh daemon; written by \`shoal install-service\`
[Unit]
Description=shoal peer-to-peer cluster daemon
After=network-online.target docker.service
Wants=network-online.target

[Service]
Type=simple
User=${options.user}
ExecStart=${args.map(quote).join(' ')}
${stateDirectory === '' ? '' : `StateDirectory=${stateDirectory}\nStateDirectoryMode=${options.socketGroup === undefined ? '0700' : '0710'}\n`}Restart=on-failure
RestartSec=2
KillSignal=SIGTERM
TimeoutStopSec=20
# systemctl reload: labels, log level and drivers policy from the config file; other changes take a restart.
ExecReload=/bin/kill -HUP $MAINPID
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`
}

export async function installServiceCommand(options: InstallServiceOptions): Promise<void> {
  if (!/^[a-z_][a-z0-9_-]*$/.test(options.user)) {
    throw new InvalidFlagError(`--user "${options.user}" is not a user name`)
  }
  // The node running this CLI and the CLI's own file: the unit runs exactly this installation.
  const unit = systemdUnit(options, [process.execPath, resolve(process.argv[1]!)])
  if (options.print === true) {
    process.stdout.write(unit)
    return
  }
  const file = join(options.unitDir, 'shoal.service')
  await mkdir(options.unitDir, { recursive: true })
  await writeFile(file, unit, { mode: 0o644 })
  console.log(`wrote ${file}\nstart it with: systemctl daemon-reload && systemctl enable --now shoal`)
  const who =
    options.socketGroup === undefined ? options.user : `${options.user} or a member of ${options.socketGroup}`
  console.log(`then use the CLI as ${who}: shoal status --data-dir ${options.dataDir}`)
}

function quote(arg: string): string {
  return /^[A-Za-z0-9_./:=@-]+$/.test(arg) ? arg : `"${arg.replace(/(["\\$`])/g, '\\$1')}"`
}
