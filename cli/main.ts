#!/usr/bin/env node
// The `shoal` command line: talks to the local daemon over its unix socket, or runs one (`shoal daemon`).
import '../src/polyfill.js'
import { Command } from 'commander'
import type { DaemonFlags } from '../src/daemon/config.js'
import { resolveDataDir } from '../src/daemon/data-dir.js'
import { JOB_STATES } from '../src/jobs/states.js'
import { VERSION } from '../src/version.js'
import { createClient } from './client.js'
import { coordinatorCommand } from './commands/coordinator.js'
import { daemonCommand } from './commands/daemon.js'
import { imageListCommand, imagePullCommand, imageRemoveCommand, layerListCommand } from './commands/image.js'
import {
  jobActionCommand,
  jobListCommand,
  jobLogsCommand,
  jobShowCommand,
  jobSubmitCommand,
  jobWaitCommand,
} from './commands/job.js'
import { nodeDrainCommand, nodeLabelCommand, nodeListCommand, nodeShowCommand } from './commands/node.js'
import {
  serviceActionCommand,
  serviceAddCommand,
  serviceListCommand,
  serviceLogsCommand,
  serviceRemoveCommand,
  serviceScaleCommand,
  serviceStatusCommand,
  serviceUpdateCommand,
  serviceVarsCommand,
} from './commands/service.js'
import { statusCommand } from './commands/status.js'
import { completionScript, SHELLS } from './completion.js'
import { EXIT, reportError } from './exit.js'
import { addServiceSpecOptions } from './service-spec.js'
import { watchEvery } from './watch.js'

const collect = (value: string, previous: string[]): string[] => [...previous, value]

const DATA_DIR_HELP = 'data directory of the daemon to use (default: $SHOAL_DATA_DIR or ~/.local/share/shoal)'

// Errors are reported by reportError, in the one style of every other error; options are positional, so a
// command's own flags (`job submit --exec ls -la`) pass through without `--`.
const program = new Command('shoal')
  .description('shoal: a peer-to-peer cluster daemon with no central server')
  .version(VERSION)
  .option('--data-dir <dir>', DATA_DIR_HELP)
  .enablePositionalOptions()
  .exitOverride()
  .configureOutput({ outputError: () => undefined })

function client(command: Command) {
  return createClient(resolveDataDir(command.optsWithGlobals<{ dataDir?: string }>().dataDir))
}

program
  .command('daemon')
  .description('run a daemon in the foreground')
  .option(
    '--swarm-key <file>',
    'swarm key to join an existing mesh (default: <data-dir>/swarm.key, created if missing)',
  )
  .option(
    '--listen <multiaddr>',
    'address to listen on, repeatable (default: /ip4/0.0.0.0/tcp/7420)',
    collect,
    [],
  )
  .option('--bootstrap <multiaddr>', 'peer to join through, repeatable', collect, [])
  .option('--no-mdns', 'do not discover peers on the LAN with mDNS')
  .option('--no-coordinator', 'never take the coordinator role')
  .option('--name <name>', 'node name (default: host name)')
  .option('--label <k=v>', 'node label, repeatable', collect, [])
  .option(
    '--http-port <port>',
    'HTTP port for the web page, /metrics and reads; 0 = any free port (default: 7421)',
  )
  .option('--http-host <host>', 'HTTP listen address; off loopback a token is required (default: 127.0.0.1)')
  .option(
    '--http-name <name>',
    'a host name the web page is reached by besides loopback and the listen address, repeatable (others get 421)',
    collect,
    [],
  )
  .option('--max-event-clients <n>', 'event streams (/v1/events) open at once; more get 503 (default: 64)')
  .option('--docker-socket <path>', 'Docker engine socket (default: $DOCKER_HOST or /var/run/docker.sock)')
  .option(
    '--store-max <size>',
    'cap on the content store, e.g. 50G; unused blobs are evicted past it (default: 20G)',
  )
  .option(
    '--job-retention <duration>',
    'how long finished jobs are kept before their records are deleted; 0 keeps them (default: 24h)',
  )
  .option(
    '--node-gc-after <duration>',
    'records of nodes dead or left for this long are removed; 0 keeps them (default: 24h)',
  )
  .option(
    '--blob-port <port>',
    'port of the blob channel that peers fetch layers from; 0 = any (default: 7422)',
  )
  .option(
    '--registry-config <file>',
    'registry credentials and insecure registries (default: <data-dir>/registries.json)',
  )
  .option('--mirror-upstream <host>', 'registry the /v2 mirror maps unknown names to (default: docker.io)')
  .option(
    '--mirror-pull',
    'let a /v2 request for an image this node lacks pull it, with this node’s credentials (default: off, 404)',
  )
  .option(
    '--job-log-max <size>',
    'each job attempt’s log keeps this much output, then notes the cut and drops the rest (default: 64M)',
  )
  .option(
    '--drivers <list>',
    'job drivers this node runs: docker, exec, both (docker,exec) or none; exec runs commands as this user (default: docker)',
  )
  .option(
    '--allow-host-network',
    'let containers use the host network, container:<name> or named networks (default: off, only none and bridge)',
  )
  .option(
    '--gpus <n[:model]>',
    'GPUs this node offers jobs, e.g. 2 or 2:A100, when the system does not say (default: the NVIDIA devices found)',
  )
  .option(
    '--allow-checkout-mounts',
    'let containers of git-sourced services mount their checkout read-only at /src (default: off)',
  )
  .option(
    '--git-credentials <file>',
    'YAML file of git credentials by host, for private service sources (default: <data-dir>/git-credentials.yaml if present)',
  )
  .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default: info)')
  .option(
    '--log-format <format>',
    'auto (readable on a terminal, JSON otherwise), pretty or json (default: auto)',
  )
  .option(
    '--socket-group <group>',
    'group whose members may use the CLI (socket 0660, data dir 0710; default: owner only)',
  )
  .option(
    '--config <file>',
    'YAML or JSON file whose keys are these flags without "--" (flags given here win)',
  )
  .action(async (options: { config?: string }, command: Command) => {
    const { applyConfigFile } = await import('./config-file.js')
    const flags = (): DaemonFlags => {
      if (options.config !== undefined) applyConfigFile(command, options.config)
      return { ...command.opts(), dataDir: command.optsWithGlobals<{ dataDir?: string }>().dataDir }
    }
    await daemonCommand(flags(), flags)
  })

program
  .command('status')
  .description("this daemon's identity, addresses and view of the mesh")
  .option('--json', 'print JSON (see README: status --json)')
  .action((options, command: Command) => statusCommand(client(command), options))

program
  .command('coordinator')
  .description('which node coordinates the mesh, under which term')
  .option('--json', 'print JSON (see README: coordinator --json)')
  .action((options, command: Command) => coordinatorCommand(client(command), options))

const image = program.command('image').description('images pulled through the mesh')
image
  .command('pull')
  .description('pull an image: each layer from peers that have it, else once from its registry')
  .argument('<ref>')
  .option('--json', 'print the result as JSON (no progress)')
  .action((ref: string, options, command: Command) => imagePullCommand(client(command), ref, options))
image
  .command('list')
  .description('images on this node (--all: every node; --node: one node)')
  .option('--all', 'images on every node')
  .option('--node <id-or-name>', 'images on one node')
  .option('-q, --quiet', 'only image references, one per line')
  .option('--json', 'print JSON')
  .action((options, command: Command) => imageListCommand(client(command), options))
image
  .command('rm')
  .description('remove an image from this node and the layers no other image uses')
  .argument('<ref>')
  .option('--json', 'print JSON')
  .action((ref: string, options, command: Command) => imageRemoveCommand(client(command), ref, options))

program
  .command('layer')
  .description('image layers (blobs)')
  .command('list')
  .description('layers on this node with every node that holds each (--all: every node; --node: one node)')
  .option('--all', 'layers on every node')
  .option('--node <id-or-name>', 'layers on one node')
  .option('-q, --quiet', 'only digests, one per line')
  .option('--json', 'print JSON')
  .action((options, command: Command) => layerListCommand(client(command), options))

const node = program.command('node').description('nodes of the mesh')
node
  .command('list')
  .description('list nodes (alive and suspect; --all adds dead and left)')
  .option('--all', 'include dead and left nodes')
  .option('-q, --quiet', 'only peer ids, one per line')
  .option('-w, --watch', 'print it again every 2 s until Ctrl-C')
  .option('--json', 'print JSON (see README: node list --json)')
  .action((options, command: Command) =>
    options.watch === true
      ? watchEvery('shoal node list', () => nodeListCommand(client(command), options))
      : nodeListCommand(client(command), options),
  )
node
  .command('show')
  .description('show one node by peer id, name, or the last characters of its id')
  .argument('<id-or-name>')
  .option('--json', 'print JSON')
  .action((ref: string, options, command: Command) => nodeShowCommand(client(command), ref, options))

node
  .command('drain')
  .description(
    'place no new work on a node; its --restart always jobs move elsewhere (batch jobs finish there)',
  )
  .argument('<id-or-name>')
  .option('--json', 'print the node as JSON')
  .action((ref: string, options, command: Command) => nodeDrainCommand(client(command), ref, true, options))
node
  .command('undrain')
  .description('let work be placed on a drained node again')
  .argument('<id-or-name>')
  .option('--json', 'print the node as JSON')
  .action((ref: string, options, command: Command) => nodeDrainCommand(client(command), ref, false, options))
node
  .command('label')
  .description('set (k=v) or remove (k-) labels of a node at runtime; constraints see them at once')
  .argument('<id-or-name>')
  .argument('<changes...>', 'k=v to set, k- to remove')
  .option('--json', 'print the node as JSON')
  .action((ref: string, changes: string[], options, command: Command) =>
    nodeLabelCommand(client(command), ref, changes, options),
  )

const job = program.command('job').description('jobs run anywhere in the mesh')
job
  .command('submit')
  .description('submit a job: --exec CMD… (a process) or --image REF CMD… (a container); prints its id')
  .argument(
    '[command...]',
    'the command and its arguments (flags after it are its own; `--` before it is optional)',
  )
  .passThroughOptions()
  .option('-f, --file <file>', 'submit a JSON array of job specs from a file (- for stdin)')
  .option('--name <name>', 'job name (default: the command)')
  .option('--tag <k=v>', 'tag, repeatable', collect, [])
  .option('--exec', 'run the command as a process')
  .option('--image <ref>', 'run the command in a container of this image')
  .option('--cpu <n>', 'CPUs it needs, e.g. 0.5 (default: 0.1)')
  .option('--mem <size>', 'memory it needs, e.g. 512M')
  .option('--disk <size>', 'disk it needs, e.g. 2G')
  .option('--gpu <n>', 'GPUs it needs')
  .option('--constraint <k=v>', 'run only on nodes with this label, repeatable', collect, [])
  .option('--timeout <duration>', 'stop it after this long, e.g. 30s')
  .option('--retries <n>', 'run it again this many times if it fails')
  .option('--backoff <duration>', 'first wait before a retry, doubling after each (default: 1s)')
  .option('--restart <policy>', 'never | on-failure | always (a service)')
  .option('--after <id>', 'start only after this job succeeded, repeatable', collect, [])
  .option('--env <K=V>', 'environment variable, repeatable', collect, [])
  .option('--workdir <dir>', 'working directory')
  .option('--network <mode>', 'container network (default: none)')
  .option('--priority <n>', 'higher runs first (default: 0)')
  .option('--submission-id <id>', 'idempotency key: the same id always yields the same job')
  .option('--wait', 'wait for it to finish; exit 0 only if it succeeded')
  .option('--follow', 'print its output while it runs, then exit with its exit code')
  .option('--json', 'print the job as JSON')
  .action((command: string[], options, cmd: Command) => jobSubmitCommand(client(cmd), command, options))
job
  .command('list')
  .description('jobs, newest first, 50 at a time (--limit, --all)')
  .option('--state <states>', `only jobs in these states, comma-separated: ${JOB_STATES.join(', ')}`)
  .option('--name <text>', 'only jobs whose name contains this text')
  .option('--tag <k=v>', 'only jobs with this tag, repeatable', collect, [])
  .option('--node <id-or-name>', 'only jobs on this node')
  .option('--limit <n>', 'at most this many (default: 50)')
  .option('--all', 'every matching job')
  .option('-q, --quiet', 'only ids, one per line')
  .option('-w, --watch', 'print it again every 2 s until Ctrl-C')
  .option('--json', 'print JSON')
  .action((options, cmd: Command) =>
    options.watch === true
      ? watchEvery('shoal job list', () => jobListCommand(client(cmd), options))
      : jobListCommand(client(cmd), options),
  )
job
  .command('show')
  .description('one job')
  .argument('<id>')
  .option('--json', 'print JSON')
  .action((ref: string, options, cmd: Command) => jobShowCommand(client(cmd), ref, options))
job
  .command('logs')
  .description("a job's output, from whichever node ran it")
  .argument('<id>')
  .option('-f, --follow', 'keep printing while it runs')
  .option('--attempt <n>', 'an earlier attempt (default: the current one)')
  .action((ref: string, options, cmd: Command) => jobLogsCommand(client(cmd), ref, options))
job
  .command('cancel')
  .description('cancel jobs; running ones are stopped')
  .argument('<id...>')
  .option('--json', 'print JSON')
  .action((refs: string[], options, cmd: Command) => jobActionCommand(client(cmd), 'cancel', refs, options))
job
  .command('retry')
  .description('run finished jobs again')
  .argument('<id...>')
  .option('--json', 'print JSON')
  .action((refs: string[], options, cmd: Command) => jobActionCommand(client(cmd), 'retry', refs, options))
job
  .command('wait')
  .description('wait for jobs to finish; exits 0 only if all succeeded')
  .argument('<id...>')
  .option('--timeout <duration>', 'give up after this long, e.g. 10m')
  .option('--json', 'print JSON')
  .action((refs: string[], options, cmd: Command) => jobWaitCommand(client(cmd), refs, options))

const service = program
  .command('service')
  .description('services: instances kept running across the mesh (names or unique prefixes everywhere)')
addServiceSpecOptions(
  service
    .command('add')
    .description('add a service: NAME --exec|--image REF|--git URL [flags] -- CMD…, or -f FILE')
    .argument('[name]')
    .argument('[command...]', 'the command and its arguments (after --, so that its flags stay its own)'),
)
  .option('--json', 'print the service as JSON (a list with -f)')
  .action((name: string | undefined, command: string[], options, cmd: Command) =>
    serviceAddCommand(client(cmd), name, command, options),
  )
service
  .command('list')
  .description('services with desired and ready instances and the generation applied')
  .option('-q, --quiet', 'only names, one per line')
  .option('-w, --watch', 'print it again every 2 s until Ctrl-C')
  .option('--json', 'print JSON')
  .action((options, cmd: Command) =>
    options.watch === true
      ? watchEvery('shoal service list', () => serviceListCommand(client(cmd), options))
      : serviceListCommand(client(cmd), options),
  )
service
  .command('status')
  .description('one service: desired vs applied generation, every instance, the variables')
  .argument('<name>')
  .option('--json', 'print JSON (the service with its variables)')
  .action((ref: string, options, cmd: Command) => serviceStatusCommand(client(cmd), ref, options))
for (const [action, description] of [
  ['start', 'run the instances of a stopped service again'],
  ['stop', 'stop every instance; the spec and variables are kept'],
  ['restart', 'restart the instances, one at a time'],
  ['reset', 'set the variables back to their initial values (running instances restart to read them)'],
] as const) {
  service
    .command(action)
    .description(description)
    .argument('<name>')
    .option('--json', 'print the service as JSON')
    .action((ref: string, options, cmd: Command) => serviceActionCommand(client(cmd), action, ref, options))
}
service
  .command('scale')
  .description('run N instances')
  .argument('<name>')
  .argument('<replicas>')
  .option('--json', 'print the service as JSON')
  .action((ref: string, replicas: string, options, cmd: Command) =>
    serviceScaleCommand(client(cmd), ref, replicas, options),
  )
addServiceSpecOptions(
  service
    .command('update')
    .description(
      'replace the spec (the same flags as add, or -f FILE): a new generation, rolled out one at a time',
    )
    .argument('<name>')
    .argument('[command...]', 'the command and its arguments (after --)'),
)
  .option('--json', 'print the service as JSON')
  .action((ref: string, command: string[], options, cmd: Command) =>
    serviceUpdateCommand(client(cmd), ref, command, options),
  )
service
  .command('vars')
  .description('the persistent variables of every instance')
  .argument('<name>')
  .option('--json', 'print JSON')
  .action((ref: string, options, cmd: Command) => serviceVarsCommand(client(cmd), ref, options))
service
  .command('remove')
  .description('stop every instance and delete the service')
  .argument('<name>')
  .option('--json', 'print JSON')
  .action((ref: string, options, cmd: Command) => serviceRemoveCommand(client(cmd), ref, options))
service
  .command('logs')
  .description("an instance's output, from the node that runs it (slot 0 unless --instance)")
  .argument('<name>')
  .option('--instance <slot>', 'which instance, by its slot number (default: 0)')
  .option('-f, --follow', 'keep printing while it runs')
  .action((ref: string, options, cmd: Command) => serviceLogsCommand(client(cmd), ref, options))

program
  .command('web')
  .description('print the URL of the web page this daemon serves')
  .option('--json', 'print { "url": … }')
  .action(async (options, command: Command) =>
    (await import('./commands/web.js')).webCommand(client(command), options),
  )

program
  .command('install-service')
  .description(
    'write a systemd unit that runs this shoal as a system daemon (then: systemctl enable --now shoal)',
  )
  .option('--config <file>', 'a config file the unit passes to the daemon')
  .option('--user <name>', 'user the daemon runs as (Docker needs root or the docker group)', 'root')
  .option('--socket-group <group>', 'group whose members may use the CLI without sudo')
  .option('--unit-dir <dir>', 'where to write shoal.service', '/etc/systemd/system')
  .option('--print', 'print the unit instead of writing it')
  .action(async (options, command: Command) => {
    const { installServiceCommand, SYSTEM_DATA_DIR } = await import('./commands/install-service.js')
    const dataDir = command.optsWithGlobals<{ dataDir?: string }>().dataDir ?? SYSTEM_DATA_DIR
    await installServiceCommand({ ...options, dataDir })
  })

program
  .command('completion')
  .description(`print a shell completion script: source <(shoal completion bash)`)
  .argument('<shell>', SHELLS.join(' or '))
  .action((shell: string) => {
    process.stdout.write(completionScript(program, shell))
  })

addDataDirToEveryCommand(program)

/** Every command that talks to a daemon takes --data-dir itself, so it shows in its help and goes anywhere. */
function addDataDirToEveryCommand(command: Command): void {
  for (const sub of command.commands) {
    if (sub.commands.length > 0) addDataDirToEveryCommand(sub)
    else if (sub.name() !== 'completion') sub.option('--data-dir <dir>', DATA_DIR_HELP)
  }
}

try {
  await program.parseAsync()
} catch (err) {
  process.exitCode = reportError(err)
}
if (process.exitCode === undefined) process.exitCode = EXIT.ok
