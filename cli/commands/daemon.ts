// `shoal daemon`: runs one daemon in the foreground until SIGINT or SIGTERM, then stops it cleanly.
import type { DaemonFlags } from '../../src/daemon/index.js'
import { InvalidFlagError } from '../../src/errors.js'
import type { LogFormat } from '../../src/logger.js'

/** A stop that takes longer than this is abandoned with exit code 1. */
const STOP_TIMEOUT_MS = 15_000

export async function daemonCommand(flags: DaemonFlags): Promise<void> {
  // Loaded here, not at the top, so that every other command starts without libp2p, LevelDB or dockerode.
  const { Daemon, resolveDaemonConfig } = await import('../../src/daemon/index.js')
  const { createRootLogger, LOG_FORMATS } = await import('../../src/logger.js')
  const config = resolveDaemonConfig(flags)
  const logger = createRootLogger({ level: config.logLevel, format: logFormat(flags.logFormat, LOG_FORMATS) })
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection (the daemon keeps running)')
  })
  const daemon = await Daemon.start(config, logger)

  await new Promise<void>((resolve) => {
    let signalled = false
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) {
        logger.warn({ signal }, 'second signal: exiting without a clean stop')
        process.exit(130)
      }
      signalled = true
      logger.info({ signal }, 'stopping')
      const timeout = setTimeout(() => {
        logger.error('clean stop took too long; exiting')
        process.exit(1)
      }, STOP_TIMEOUT_MS)
      daemon
        .stop()
        .catch((err: Error) => {
          logger.error({ err }, 'stop failed')
          process.exitCode = 1
        })
        .finally(() => {
          clearTimeout(timeout)
          resolve()
        })
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

function logFormat(flag: string | undefined, formats: readonly LogFormat[]): LogFormat {
  const format = flag ?? process.env.SHOAL_LOG_FORMAT ?? 'auto'
  if ((formats as readonly string[]).includes(format)) return format as LogFormat
  throw new InvalidFlagError(`--log-format must be one of ${formats.join(', ')}, got "${format}"`)
}
