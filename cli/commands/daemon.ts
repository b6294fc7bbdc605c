// `shoal daemon`: runs one daemon in the foreground until SIGINT or SIGTERM, then stops it cleanly; SIGHUP reloads.
import type { DaemonFlags } from '../../src/daemon/index.js'
import { InvalidFlagError } from '../../src/errors.js'
import type { LogFormat } from '../../src/logger.js'

/** A stop that takes longer than this is abandoned with exit code 1. */
const STOP_TIMEOUT_MS = 15_000

/**
 * `reloadFlags` gives the flags again for a SIGHUP (the config file read anew, the command line over it):
 * labels, log level and the drivers policy change live; the rest is reported as needing a restart.
 */
export async function daemonCommand(flags: DaemonFlags, reloadFlags: () => DaemonFlags): Promise<void> {
  // Loaded here, not at the top, so that every other command starts without libp2p, LevelDB or dockerode.
  const { Daemon, reloadDaemon, resolveDaemonConfig } = await import('../../src/daemon/index.js')
  const { createRootLogger, LOG_FORMATS } = await import('../../src/logger.js')
  const config = resolveDaemonConfig(flags)
  const logger = createRootLogger({ level: config.logLevel, format: logFormat(flags.logFormat, LOG_FORMATS) })
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection (the daemon keeps running)')
  })
  const daemon = await Daemon.start(config, logger)
  let running = config
  process.on('SIGHUP', () => {
    let next: typeof config
    try {
      next = resolveDaemonConfig(reloadFlags())
    } catch (err) {
      logger.error(
        { err: (err as Error).message },
        'reload refused: the configuration is not valid; nothing changed',
      )
      return
    }
    reloadDaemon(daemon, logger, running, next)
      .then(({ applied, needRestart }) => {
        running = next
        logger.info(
          { applied, needRestart },
          `reloaded: ${applied.join(', ') || 'nothing changed'}` +
            (needRestart.length > 0 ? `; changes to ${needRestart.join(', ')} take a restart` : ''),
        )
      })
      .catch((err: Error) => logger.error({ err: err.message }, 'reload failed'))
  })

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
