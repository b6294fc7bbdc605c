// Every failure shoal reports, each with a stable code; messages are for people and may change, codes may not.

/** Base of all shoal errors. `code` is stable and documented; `status` is the HTTP status the API answers with. */
export class ShoalError extends Error {
  readonly code: string
  readonly status: number

  constructor(code: string, message: string, status: number, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.status = status
  }

  toJSON(): { code: string; message: string } {
    return { code: this.code, message: this.message }
  }
}

/** One of the error classes below: how a caller says which error a shared check should throw. */
export type ShoalErrorClass = {
  new (message: string, options?: ErrorOptions): ShoalError
  readonly code: string
}

function defineError(name: string, code: string, status: number): ShoalErrorClass {
  const errorClass = class extends ShoalError {
    static readonly code = code
    constructor(message: string, options?: ErrorOptions) {
      super(code, message, status, options)
      this.name = name
    }
  }
  Object.defineProperty(errorClass, 'name', { value: name })
  return errorClass
}

// Configuration and start-up
export const InvalidFlagError = defineError('InvalidFlagError', 'SHOAL_INVALID_FLAG', 400)
export const DataDirInUseError = defineError('DataDirInUseError', 'SHOAL_DATA_DIR_IN_USE', 409)
export const DataDirUnusableError = defineError('DataDirUnusableError', 'SHOAL_DATA_DIR_UNUSABLE', 500)
export const SwarmKeyInvalidError = defineError('SwarmKeyInvalidError', 'SHOAL_SWARM_KEY_INVALID', 400)
export const PeerKeyInvalidError = defineError('PeerKeyInvalidError', 'SHOAL_PEER_KEY_INVALID', 500)
export const ListenFailedError = defineError('ListenFailedError', 'SHOAL_LISTEN_FAILED', 500)

// State
export const UnknownKindError = defineError('UnknownKindError', 'SHOAL_UNKNOWN_KIND', 400)
export const InvalidRecordError = defineError('InvalidRecordError', 'SHOAL_INVALID_RECORD', 400)
export const RecordTooLargeError = defineError('RecordTooLargeError', 'SHOAL_RECORD_TOO_LARGE', 413)
export const StoreClosedError = defineError('StoreClosedError', 'SHOAL_STORE_CLOSED', 503)

// Coordinator
export const StaleTermError = defineError('StaleTermError', 'SHOAL_STALE_TERM', 409)
export const NotCoordinatorError = defineError('NotCoordinatorError', 'SHOAL_NOT_COORDINATOR', 409)

// Layers and images
export const InvalidDigestError = defineError('InvalidDigestError', 'SHOAL_INVALID_DIGEST', 400)
export const InvalidReferenceError = defineError('InvalidReferenceError', 'SHOAL_INVALID_REFERENCE', 400)
export const DigestMismatchError = defineError('DigestMismatchError', 'SHOAL_DIGEST_MISMATCH', 502)
export const RegistryUnreachableError = defineError(
  'RegistryUnreachableError',
  'SHOAL_REGISTRY_UNREACHABLE',
  502,
)
export const RegistryAuthError = defineError('RegistryAuthError', 'SHOAL_REGISTRY_AUTH', 401)
export const ManifestNotFoundError = defineError('ManifestNotFoundError', 'SHOAL_MANIFEST_NOT_FOUND', 404)
export const BlobNotFoundError = defineError('BlobNotFoundError', 'SHOAL_BLOB_NOT_FOUND', 404)
export const RegistryError = defineError('RegistryError', 'SHOAL_REGISTRY_ERROR', 502)
export const ManifestInvalidError = defineError('ManifestInvalidError', 'SHOAL_MANIFEST_INVALID', 502)
export const PlatformNotFoundError = defineError('PlatformNotFoundError', 'SHOAL_PLATFORM_NOT_FOUND', 404)
export const StoreFullError = defineError('StoreFullError', 'SHOAL_STORE_FULL', 507)
/** The filesystem under the data directory has no room left (as opposed to the store's own cap). */
export const DiskFullError = defineError('DiskFullError', 'SHOAL_DISK_FULL', 507)
export const ImageNotFoundError = defineError('ImageNotFoundError', 'SHOAL_IMAGE_NOT_FOUND', 404)
export const ImageInUseError = defineError('ImageInUseError', 'SHOAL_IMAGE_IN_USE', 409)
export const DockerUnavailableError = defineError('DockerUnavailableError', 'SHOAL_DOCKER_UNAVAILABLE', 503)
export const PullFailedError = defineError('PullFailedError', 'SHOAL_PULL_FAILED', 502)
/** A relay refused to pass a blob on to a peer that joined its relay chain before it (that would be a cycle). */
export const RelayOrderError = defineError('RelayOrderError', 'SHOAL_RELAY_ORDER', 409)

// Jobs
export const InvalidJobError = defineError('InvalidJobError', 'SHOAL_INVALID_JOB', 400)
export const JobTooLargeError = defineError('JobTooLargeError', 'SHOAL_JOB_TOO_LARGE', 413)
export const JobCycleError = defineError('JobCycleError', 'SHOAL_JOB_CYCLE', 400)
export const JobNotFoundError = defineError('JobNotFoundError', 'SHOAL_JOB_NOT_FOUND', 404)
export const JobFinishedError = defineError('JobFinishedError', 'SHOAL_JOB_FINISHED', 409)
export const JobNotFinishedError = defineError('JobNotFinishedError', 'SHOAL_JOB_NOT_FINISHED', 409)
export const TooManyJobsError = defineError('TooManyJobsError', 'SHOAL_TOO_MANY_JOBS', 413)
export const LogsUnavailableError = defineError('LogsUnavailableError', 'SHOAL_LOGS_UNAVAILABLE', 503)
export const WaitTimeoutError = defineError('WaitTimeoutError', 'SHOAL_WAIT_TIMEOUT', 408)

// API
export const NotFoundError = defineError('NotFoundError', 'SHOAL_NOT_FOUND', 404)
export const NodeNotFoundError = defineError('NodeNotFoundError', 'SHOAL_NODE_NOT_FOUND', 404)
export const NodeAmbiguousError = defineError('NodeAmbiguousError', 'SHOAL_NODE_AMBIGUOUS', 409)
export const MethodNotAllowedError = defineError('MethodNotAllowedError', 'SHOAL_METHOD_NOT_ALLOWED', 405)
export const UnauthorizedError = defineError('UnauthorizedError', 'SHOAL_UNAUTHORIZED', 401)
export const BadRequestError = defineError('BadRequestError', 'SHOAL_BAD_REQUEST', 400)
export const InternalError = defineError('InternalError', 'SHOAL_INTERNAL', 500)

// CLI
export const DaemonUnreachableError = defineError('DaemonUnreachableError', 'SHOAL_DAEMON_UNREACHABLE', 503)

/** Turns anything thrown into a ShoalError, keeping the original as `cause`. */
export function asShoalError(err: unknown): ShoalError {
  if (err instanceof ShoalError) return err
  const message = err instanceof Error ? err.message : String(err)
  return new InternalError(message, { cause: err })
}
