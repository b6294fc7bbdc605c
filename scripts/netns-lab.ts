// A lab of hosts in network namespaces joined by a bridge, with tc-shaped links (needs root). Used by tests and benchmarks.
//
//   node --import tsx scripts/netns-lab.ts up 3        # make a lab with 3 hosts, print its id and hosts
//   node --import tsx scripts/netns-lab.ts down <id>   # remove it
//
// Topology: one namespace per host (`shoal-<id>-h<n>`, interface eth0, address 198.18.0.<n>/24) and one
// switch namespace (`shoal-<id>-sw`) holding a bridge; veth pairs connect each host to the bridge. The
// host namespaces have a multicast route, so mDNS works between them. Nothing touches the root namespace.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface LabHost {
  /** h1, h2, … */
  name: string
  /** The network namespace. */
  ns: string
  /** Its address on the lab network (198.18.0.0/15 is reserved for benchmarking, RFC 2544). */
  ip: string
  /** The bridge-side end of its link, in the switch namespace. */
  port: string
}

export interface LinkShape {
  /** Rate limit in Mbit/s in each direction. */
  rateMbit?: number
  /** One-way delay in ms in each direction. */
  delayMs?: number
}

async function ip(...args: string[]): Promise<void> {
  await run('ip', args)
}

export class NetnsLab {
  private constructor(
    readonly id: string,
    readonly hosts: LabHost[],
  ) {}

  get switchNs(): string {
    return `shoal-${this.id}-sw`
  }

  /** Creates `count` hosts on one bridge. Throws a clear error when not root. */
  static async create(count: number, id = randomBytes(2).toString('hex')): Promise<NetnsLab> {
    if (process.getuid?.() !== 0) throw new Error('the namespace lab needs root (ip netns, veth, tc)')
    if (count < 1 || count > 200) throw new RangeError('a lab has 1 to 200 hosts')
    const lab = new NetnsLab(id, [])
    try {
      await ip('netns', 'add', lab.switchNs)
      await lab.inSwitch('ip', 'link', 'add', 'br0', 'type', 'bridge')
      // Snooping would hold back mDNS multicast until someone sends IGMP reports; a lab switch floods.
      await lab.inSwitch('ip', 'link', 'set', 'br0', 'type', 'bridge', 'mcast_snooping', '0')
      await lab.inSwitch('ip', 'link', 'set', 'br0', 'up')
      for (let n = 1; n <= count; n++) await lab.addHost(n)
    } catch (err) {
      await lab.destroy()
      throw err
    }
    return lab
  }

  private async addHost(n: number): Promise<void> {
    const host: LabHost = {
      name: `h${n}`,
      ns: `shoal-${this.id}-h${n}`,
      ip: `198.18.${Math.floor(n / 250)}.${n % 250}`,
      port: `p${n}`,
    }
    const temp = `sh${this.id}h${n}`
    await ip('netns', 'add', host.ns)
    await ip('link', 'add', temp, 'type', 'veth', 'peer', 'name', `${temp}b`)
    await ip('link', 'set', temp, 'netns', host.ns)
    await ip('link', 'set', `${temp}b`, 'netns', this.switchNs)
    await this.inHost(host, 'ip', 'link', 'set', temp, 'name', 'eth0')
    await this.inHost(host, 'ip', 'link', 'set', 'lo', 'up')
    await this.inHost(host, 'ip', 'addr', 'add', `${host.ip}/15`, 'dev', 'eth0')
    await this.inHost(host, 'ip', 'link', 'set', 'eth0', 'up')
    await this.inHost(host, 'ip', 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
    await this.inSwitch('ip', 'link', 'set', `${temp}b`, 'name', host.port)
    await this.inSwitch('ip', 'link', 'set', host.port, 'master', 'br0')
    await this.inSwitch('ip', 'link', 'set', host.port, 'up')
    this.hosts.push(host)
  }

  /** Runs a command inside a host's namespace. */
  async inHost(host: LabHost, command: string, ...args: string[]): Promise<string> {
    const { stdout } = await run('ip', ['netns', 'exec', host.ns, command, ...args])
    return stdout
  }

  private async inSwitch(command: string, ...args: string[]): Promise<void> {
    await run('ip', ['netns', 'exec', this.switchNs, command, ...args])
  }

  /** The command and arguments that run `command args…` inside a host (for spawn). */
  wrap(host: LabHost, command: string, args: readonly string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', host.ns, command, ...args]]
  }

  /**
   * Shapes a host's link in both directions (host egress on eth0, switch egress on its port). A rate alone
   * uses a token bucket (tbf, in every kernel); a delay needs netem, which some kernels lack.
   */
  async shape(host: LabHost, shape: LinkShape): Promise<void> {
    let qdisc: string[]
    if (shape.delayMs === undefined && shape.rateMbit !== undefined) {
      // Burst: 2 ms worth of bytes at the rate, at least 32 KiB, so the bucket does not starve TCP.
      const burst = Math.max(32 * 1024, Math.round((shape.rateMbit * 1e6) / 8 / 500))
      qdisc = ['tbf', 'rate', `${shape.rateMbit}mbit`, 'burst', String(burst), 'latency', '100ms']
    } else {
      qdisc = ['netem']
      if (shape.delayMs !== undefined) qdisc.push('delay', `${shape.delayMs}ms`)
      if (shape.rateMbit !== undefined) qdisc.push('rate', `${shape.rateMbit}mbit`, 'limit', '10000')
    }
    await this.inHost(host, 'tc', 'qdisc', 'replace', 'dev', 'eth0', 'root', ...qdisc)
    await this.inSwitch('tc', 'qdisc', 'replace', 'dev', host.port, 'root', ...qdisc)
  }

  /** Cuts (or restores) a host's link at the switch, as if its cable were pulled. */
  async setLink(host: LabHost, up: boolean): Promise<void> {
    await this.inSwitch('ip', 'link', 'set', host.port, up ? 'up' : 'down')
  }

  /** Removes every namespace of the lab. Processes started inside must be stopped first. */
  async destroy(): Promise<void> {
    const { stdout } = await run('ip', ['netns', 'list'])
    const mine = stdout
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter((ns) => ns.startsWith(`shoal-${this.id}-`))
    for (const ns of mine) await ip('netns', 'del', ns)
  }

  static attach(id: string): NetnsLab {
    return new NetnsLab(id, [])
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, arg] = argv
  if (command === 'up') {
    const lab = await NetnsLab.create(Number(arg ?? 2))
    console.log(`lab ${lab.id}`)
    for (const host of lab.hosts) console.log(`  ${host.name}  ${host.ns}  ${host.ip}`)
    console.log(`run a command in a host: ip netns exec ${lab.hosts[0]?.ns} <command>`)
    console.log(`remove it: node --import tsx scripts/netns-lab.ts down ${lab.id}`)
  } else if (command === 'down' && arg !== undefined) {
    await NetnsLab.attach(arg).destroy()
  } else {
    console.error('usage: netns-lab.ts up <hosts> | down <id>')
    process.exitCode = 1
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv.slice(2))
