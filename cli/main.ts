#!/usr/bin/env node
// The `shoal` command line: talks to the local daemon over its unix socket, or runs one (`shoal daemon`).
import '../src/polyfill.js'
import { Command } from 'commander'
import { resolveDataDir } from '../src/daemon/data-dir.js'
import { DaemonUnreachableError, ShoalError } from '../src/errors.js'
import { VERSION } from '../src/version.js'
import { createClient } from './client.js'
import { coordinatorCommand } from './commands/coordinator.js'
import { daemonCommand } from './commands/daemon.js'
import { imageListCommand, imagePullCommand, imageRemoveCommand, layerListCommand } from './commands/image.js'
import { nodeListCommand, nodeShowCommand } from './commands/node.js'
import { statusCommand } from './commands/status.js'

/** Exit codes: 0 ok; 1 an error (bad input, or one the daemon reported); 2 no daemon to talk to. */
const EXIT_ERROR = 1
const EXIT_NO_DAEMON = 2

const collect = (value: string, previous: string[]): string[] => [...previous, value]

const program = new Command('shoal')
  .description('shoal: a peer-to-peer cluster daemon with no central server')
  .version(VERSION)
  .option(
    '--data-dir <dir>',
    'data directory of the daemon to use (default: $SHOAL_DATA_DIR or ~/.local/share/shoal)',
  )
  .showHelpAfterError()

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
  .option('--docker-socket <path>', 'Docker engine socket (default: $DOCKER_HOST or /var/run/docker.sock)')
  .option(
    '--store-max <size>',
    'cap on the content store, e.g. 50G; unused blobs are evicted past it (default: 20G)',
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
  .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default: info)')
  .action(async (options, command: Command) => {
    const globals = command.optsWithGlobals<{ dataDir?: string }>()
    await daemonCommand({ ...options, dataDir: globals.dataDir })
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
  .option('--json', 'print JSON')
  .action((options, command: Command) => layerListCommand(client(command), options))

const node = program.command('node').description('nodes of the mesh')
node
  .command('list')
  .description('list nodes (alive and suspect; --all adds dead and left)')
  .option('--all', 'include dead and left nodes')
  .option('--json', 'print JSON (see README: node list --json)')
  .action((options, command: Command) => nodeListCommand(client(command), options))
node
  .command('show')
  .description('show one node by peer id, name, or the last characters of its id')
  .argument('<id-or-name>')
  .option('--json', 'print JSON')
  .action((ref: string, options, command: Command) => nodeShowCommand(client(command), ref, options))

try {
  await program.parseAsync()
} catch (err) {
  if (err instanceof ShoalError) {
    const hint = err instanceof DaemonUnreachableError ? ' (start one with "shoal daemon")' : ''
    console.error(`shoal: ${err.message}${hint} [${err.code}]`)
    process.exitCode = err instanceof DaemonUnreachableError ? EXIT_NO_DAEMON : EXIT_ERROR
  } else {
    console.error(`shoal: ${(err as Error).message}`)
    process.exitCode = EXIT_ERROR
  }
}
