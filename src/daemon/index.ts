// The daemon's face: configuration, the data directory layout, and the composed daemon.
export type { DaemonConfig, DaemonFlags } from './config.js'
export { DEFAULT_HTTP_PORT, resolveDaemonConfig } from './config.js'
export { Daemon } from './daemon.js'
export { dataDirPaths, resolveDataDir } from './data-dir.js'
export { type ReloadResult, reloadDaemon } from './reload.js'
