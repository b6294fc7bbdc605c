// Every failure shoal reports, each with a stable code; messages are for people and may change, codes may not.

/**
 * Base of all shoal errors. `code` is stable and documented; the API answers with the HTTP status the code
 * maps to (src/api/status.ts). Constructed directly only for an error relayed from elsewhere (the daemon's
 * answer to the CLI, a peer's answer), which keeps the code it came with.
 */
export class ShoalError extends Error {
  static override readonly name: string = 'ShoalError'
  readonly code: string

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = 'ShoalError'
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

// Configuration and start-up

/** The command line itself is wrong: an unknown command or option, a missing argument (exit code 2). */
export class UsageError extends ShoalError {
  static override readonly name = 'UsageError'
  static readonly code = 'SHOAL_USAGE'

  constructor(message: string, options?: ErrorOptions) {
    super(UsageError.code, message, options)
    this.name = 'UsageError'
  }
}

/** A command-line flag, or a file one names, has a value shoal cannot use. */
export class InvalidFlagError extends ShoalError {
  static override readonly name = 'InvalidFlagError'
  static readonly code = 'SHOAL_INVALID_FLAG'

  constructor(message: string, options?: ErrorOptions) {
    super(InvalidFlagError.code, message, options)
    this.name = 'InvalidFlagError'
  }
}

/** Another shoal daemon holds the data directory. */
export class DataDirInUseError extends ShoalError {
  static override readonly name = 'DataDirInUseError'
  static readonly code = 'SHOAL_DATA_DIR_IN_USE'

  constructor(message: string, options?: ErrorOptions) {
    super(DataDirInUseError.code, message, options)
    this.name = 'DataDirInUseError'
  }
}

/** The data directory (or the store in it) cannot be created or opened. */
export class DataDirUnusableError extends ShoalError {
  static override readonly name = 'DataDirUnusableError'
  static readonly code = 'SHOAL_DATA_DIR_UNUSABLE'

  constructor(message: string, options?: ErrorOptions) {
    super(DataDirUnusableError.code, message, options)
    this.name = 'DataDirUnusableError'
  }
}

/** The swarm key cannot be read or is not a swarm key. */
export class SwarmKeyInvalidError extends ShoalError {
  static override readonly name = 'SwarmKeyInvalidError'
  static readonly code = 'SHOAL_SWARM_KEY_INVALID'

  constructor(message: string, options?: ErrorOptions) {
    super(SwarmKeyInvalidError.code, message, options)
    this.name = 'SwarmKeyInvalidError'
  }
}

/** The node's peer key cannot be read or is not an Ed25519 libp2p key. */
export class PeerKeyInvalidError extends ShoalError {
  static override readonly name = 'PeerKeyInvalidError'
  static readonly code = 'SHOAL_PEER_KEY_INVALID'

  constructor(message: string, options?: ErrorOptions) {
    super(PeerKeyInvalidError.code, message, options)
    this.name = 'PeerKeyInvalidError'
  }
}

/** A listener (mesh, API or blob channel) could not bind its address. */
export class ListenFailedError extends ShoalError {
  static override readonly name = 'ListenFailedError'
  static readonly code = 'SHOAL_LISTEN_FAILED'

  constructor(message: string, options?: ErrorOptions) {
    super(ListenFailedError.code, message, options)
    this.name = 'ListenFailedError'
  }
}

// Mesh

/** A peer stopped answering probes: the reason its connections are dropped. */
export class PeerUnresponsiveError extends ShoalError {
  static override readonly name = 'PeerUnresponsiveError'
  static readonly code = 'SHOAL_PEER_UNRESPONSIVE'

  constructor(message: string, options?: ErrorOptions) {
    super(PeerUnresponsiveError.code, message, options)
    this.name = 'PeerUnresponsiveError'
  }
}

// State

/** A write names a record kind this state does not hold. */
export class UnknownKindError extends ShoalError {
  static override readonly name = 'UnknownKindError'
  static readonly code = 'SHOAL_UNKNOWN_KIND'

  constructor(message: string, options?: ErrorOptions) {
    super(UnknownKindError.code, message, options)
    this.name = 'UnknownKindError'
  }
}

/** A write has an invalid key or a value its kind's schema refuses. */
export class InvalidRecordError extends ShoalError {
  static override readonly name = 'InvalidRecordError'
  static readonly code = 'SHOAL_INVALID_RECORD'

  constructor(message: string, options?: ErrorOptions) {
    super(InvalidRecordError.code, message, options)
    this.name = 'InvalidRecordError'
  }
}

/** A record (or a request body) is over its size limit. */
export class RecordTooLargeError extends ShoalError {
  static override readonly name = 'RecordTooLargeError'
  static readonly code = 'SHOAL_RECORD_TOO_LARGE'

  constructor(message: string, options?: ErrorOptions) {
    super(RecordTooLargeError.code, message, options)
    this.name = 'RecordTooLargeError'
  }
}

/** The record store was written to after it closed. */
export class StoreClosedError extends ShoalError {
  static override readonly name = 'StoreClosedError'
  static readonly code = 'SHOAL_STORE_CLOSED'

  constructor(message: string, options?: ErrorOptions) {
    super(StoreClosedError.code, message, options)
    this.name = 'StoreClosedError'
  }
}

/** A peer sent a malformed or unexpected anti-entropy sync frame, or more keys than a round allows. */
export class SyncProtocolError extends ShoalError {
  static override readonly name = 'SyncProtocolError'
  static readonly code = 'SHOAL_SYNC_PROTOCOL'

  constructor(message: string, options?: ErrorOptions) {
    super(SyncProtocolError.code, message, options)
    this.name = 'SyncProtocolError'
  }
}

/** A sync peer asked for or sent more than one round may carry (keys wanted, listed or pushed). */
export class SyncLimitError extends ShoalError {
  static override readonly name = 'SyncLimitError'
  static readonly code = 'SHOAL_SYNC_LIMIT'

  constructor(message: string, options?: ErrorOptions) {
    super(SyncLimitError.code, message, options)
    this.name = 'SyncLimitError'
  }
}

// Coordinator

/** A fenced write carries a coordinator term that is no longer current. */
export class StaleTermError extends ShoalError {
  static override readonly name = 'StaleTermError'
  static readonly code = 'SHOAL_STALE_TERM'

  constructor(message: string, options?: ErrorOptions) {
    super(StaleTermError.code, message, options)
    this.name = 'StaleTermError'
  }
}

/** A coordinator-only write came from a node that does not hold the role. */
export class NotCoordinatorError extends ShoalError {
  static override readonly name = 'NotCoordinatorError'
  static readonly code = 'SHOAL_NOT_COORDINATOR'

  constructor(message: string, options?: ErrorOptions) {
    super(NotCoordinatorError.code, message, options)
    this.name = 'NotCoordinatorError'
  }
}

// Layers and images

/** A string is not a sha256 digest. */
export class InvalidDigestError extends ShoalError {
  static override readonly name = 'InvalidDigestError'
  static readonly code = 'SHOAL_INVALID_DIGEST'

  constructor(message: string, options?: ErrorOptions) {
    super(InvalidDigestError.code, message, options)
    this.name = 'InvalidDigestError'
  }
}

/** A string is not an image reference. */
export class InvalidReferenceError extends ShoalError {
  static override readonly name = 'InvalidReferenceError'
  static readonly code = 'SHOAL_INVALID_REFERENCE'

  constructor(message: string, options?: ErrorOptions) {
    super(InvalidReferenceError.code, message, options)
    this.name = 'InvalidReferenceError'
  }
}

/** Bytes received do not hash to the digest they were asked for (or run past its size). */
export class DigestMismatchError extends ShoalError {
  static override readonly name = 'DigestMismatchError'
  static readonly code = 'SHOAL_DIGEST_MISMATCH'

  constructor(message: string, options?: ErrorOptions) {
    super(DigestMismatchError.code, message, options)
    this.name = 'DigestMismatchError'
  }
}

/** A registry cannot be reached or did not answer in time. */
export class RegistryUnreachableError extends ShoalError {
  static override readonly name = 'RegistryUnreachableError'
  static readonly code = 'SHOAL_REGISTRY_UNREACHABLE'

  constructor(message: string, options?: ErrorOptions) {
    super(RegistryUnreachableError.code, message, options)
    this.name = 'RegistryUnreachableError'
  }
}

/** A registry refused the credentials, or gave no usable token. */
export class RegistryAuthError extends ShoalError {
  static override readonly name = 'RegistryAuthError'
  static readonly code = 'SHOAL_REGISTRY_AUTH'

  constructor(message: string, options?: ErrorOptions) {
    super(RegistryAuthError.code, message, options)
    this.name = 'RegistryAuthError'
  }
}

/** No manifest by that reference (in the registry, or in this node's store). */
export class ManifestNotFoundError extends ShoalError {
  static override readonly name = 'ManifestNotFoundError'
  static readonly code = 'SHOAL_MANIFEST_NOT_FOUND'

  constructor(message: string, options?: ErrorOptions) {
    super(ManifestNotFoundError.code, message, options)
    this.name = 'ManifestNotFoundError'
  }
}

/** No blob by that digest (in the registry, a peer's store or this one). */
export class BlobNotFoundError extends ShoalError {
  static override readonly name = 'BlobNotFoundError'
  static readonly code = 'SHOAL_BLOB_NOT_FOUND'

  constructor(message: string, options?: ErrorOptions) {
    super(BlobNotFoundError.code, message, options)
    this.name = 'BlobNotFoundError'
  }
}

/** A registry answered with a status or behaviour shoal cannot use. */
export class RegistryError extends ShoalError {
  static override readonly name = 'RegistryError'
  static readonly code = 'SHOAL_REGISTRY_ERROR'

  constructor(message: string, options?: ErrorOptions) {
    super(RegistryError.code, message, options)
    this.name = 'RegistryError'
  }
}

/** A registry sent a manifest or index that is malformed, too large or inconsistent. */
export class ManifestInvalidError extends ShoalError {
  static override readonly name = 'ManifestInvalidError'
  static readonly code = 'SHOAL_MANIFEST_INVALID'

  constructor(message: string, options?: ErrorOptions) {
    super(ManifestInvalidError.code, message, options)
    this.name = 'ManifestInvalidError'
  }
}

/** An image index has no manifest for this node's platform. */
export class PlatformNotFoundError extends ShoalError {
  static override readonly name = 'PlatformNotFoundError'
  static readonly code = 'SHOAL_PLATFORM_NOT_FOUND'

  constructor(message: string, options?: ErrorOptions) {
    super(PlatformNotFoundError.code, message, options)
    this.name = 'PlatformNotFoundError'
  }
}

/** The content store's cap (--store-max) leaves no room, even after evicting unused blobs. */
export class StoreFullError extends ShoalError {
  static override readonly name = 'StoreFullError'
  static readonly code = 'SHOAL_STORE_FULL'

  constructor(message: string, options?: ErrorOptions) {
    super(StoreFullError.code, message, options)
    this.name = 'StoreFullError'
  }
}

/** The filesystem under the data directory has no room left (as opposed to the store's own cap). */
export class DiskFullError extends ShoalError {
  static override readonly name = 'DiskFullError'
  static readonly code = 'SHOAL_DISK_FULL'

  constructor(message: string, options?: ErrorOptions) {
    super(DiskFullError.code, message, options)
    this.name = 'DiskFullError'
  }
}

/** No image by that reference on this node (or in the engine, and it could not be pulled). */
export class ImageNotFoundError extends ShoalError {
  static override readonly name = 'ImageNotFoundError'
  static readonly code = 'SHOAL_IMAGE_NOT_FOUND'

  constructor(message: string, options?: ErrorOptions) {
    super(ImageNotFoundError.code, message, options)
    this.name = 'ImageNotFoundError'
  }
}

/** An image is in use and cannot be removed. */
export class ImageInUseError extends ShoalError {
  static override readonly name = 'ImageInUseError'
  static readonly code = 'SHOAL_IMAGE_IN_USE'

  constructor(message: string, options?: ErrorOptions) {
    super(ImageInUseError.code, message, options)
    this.name = 'ImageInUseError'
  }
}

/** The Docker engine cannot be reached or failed a request. */
export class DockerUnavailableError extends ShoalError {
  static override readonly name = 'DockerUnavailableError'
  static readonly code = 'SHOAL_DOCKER_UNAVAILABLE'

  constructor(message: string, options?: ErrorOptions) {
    super(DockerUnavailableError.code, message, options)
    this.name = 'DockerUnavailableError'
  }
}

/** The Docker engine answered an API request with an unexpected status, or not in time. */
export class DockerApiError extends ShoalError {
  static override readonly name = 'DockerApiError'
  static readonly code = 'SHOAL_DOCKER_API'

  constructor(message: string, options?: ErrorOptions) {
    super(DockerApiError.code, message, options)
    this.name = 'DockerApiError'
  }
}

/** A container asked for GPUs on a node whose Docker engine has no GPU runtime (nvidia-container-toolkit). */
export class GpuRuntimeMissingError extends ShoalError {
  static override readonly name = 'GpuRuntimeMissingError'
  static readonly code = 'SHOAL_GPU_RUNTIME_MISSING'

  constructor(message: string, options?: ErrorOptions) {
    super(GpuRuntimeMissingError.code, message, options)
    this.name = 'GpuRuntimeMissingError'
  }
}

/** A pull could not get a blob by any route. */
export class PullFailedError extends ShoalError {
  static override readonly name = 'PullFailedError'
  static readonly code = 'SHOAL_PULL_FAILED'

  constructor(message: string, options?: ErrorOptions) {
    super(PullFailedError.code, message, options)
    this.name = 'PullFailedError'
  }
}

/** A relay refused to pass a blob on to a peer that joined its relay chain before it (that would be a cycle). */
export class RelayOrderError extends ShoalError {
  static override readonly name = 'RelayOrderError'
  static readonly code = 'SHOAL_RELAY_ORDER'

  constructor(message: string, options?: ErrorOptions) {
    super(RelayOrderError.code, message, options)
    this.name = 'RelayOrderError'
  }
}

/** A peer broke the blob channel's protocol: a malformed or oversized request, or a close mid-exchange. */
export class BlobProtocolError extends ShoalError {
  static override readonly name = 'BlobProtocolError'
  static readonly code = 'SHOAL_BLOB_PROTOCOL'

  constructor(message: string, options?: ErrorOptions) {
    super(BlobProtocolError.code, message, options)
    this.name = 'BlobProtocolError'
  }
}

/** A blob's file ended before the size the store holds for it. */
export class BlobTruncatedError extends ShoalError {
  static override readonly name = 'BlobTruncatedError'
  static readonly code = 'SHOAL_BLOB_TRUNCATED'

  constructor(message: string, options?: ErrorOptions) {
    super(BlobTruncatedError.code, message, options)
    this.name = 'BlobTruncatedError'
  }
}

/** A blob being written was given up before it was complete (its fetch ended, or the daemon is stopping). */
export class BlobWriteAbandonedError extends ShoalError {
  static override readonly name = 'BlobWriteAbandonedError'
  static readonly code = 'SHOAL_BLOB_WRITE_ABANDONED'

  constructor(message: string, options?: ErrorOptions) {
    super(BlobWriteAbandonedError.code, message, options)
    this.name = 'BlobWriteAbandonedError'
  }
}

/** A peer's blob channel gave no answer: connection refused or reset, unreachable, timed out, or closed first. */
export class BlobPeerUnreachableError extends ShoalError {
  static override readonly name = 'BlobPeerUnreachableError'
  static readonly code = 'SHOAL_BLOB_PEER_UNREACHABLE'

  constructor(message: string, options?: ErrorOptions) {
    super(BlobPeerUnreachableError.code, message, options)
    this.name = 'BlobPeerUnreachableError'
  }
}

/** A blob channel request asked for a range that starts past the end of the blob. */
export class BlobRangeInvalidError extends ShoalError {
  static override readonly name = 'BlobRangeInvalidError'
  static readonly code = 'SHOAL_BLOB_RANGE_INVALID'

  constructor(message: string, options?: ErrorOptions) {
    super(BlobRangeInvalidError.code, message, options)
    this.name = 'BlobRangeInvalidError'
  }
}

// Jobs

/** A job spec or submission is invalid. */
export class InvalidJobError extends ShoalError {
  static override readonly name = 'InvalidJobError'
  static readonly code = 'SHOAL_INVALID_JOB'

  constructor(message: string, options?: ErrorOptions) {
    super(InvalidJobError.code, message, options)
    this.name = 'InvalidJobError'
  }
}

/** A job spec is over its size limit. */
export class JobTooLargeError extends ShoalError {
  static override readonly name = 'JobTooLargeError'
  static readonly code = 'SHOAL_JOB_TOO_LARGE'

  constructor(message: string, options?: ErrorOptions) {
    super(JobTooLargeError.code, message, options)
    this.name = 'JobTooLargeError'
  }
}

/** The jobs of a submission wait on each other in a cycle. */
export class JobCycleError extends ShoalError {
  static override readonly name = 'JobCycleError'
  static readonly code = 'SHOAL_JOB_CYCLE'

  constructor(message: string, options?: ErrorOptions) {
    super(JobCycleError.code, message, options)
    this.name = 'JobCycleError'
  }
}

/** A member answered a probe (or asked for one) with a malformed frame. */
export class ProbeProtocolError extends ShoalError {
  static override readonly name = 'ProbeProtocolError'
  static readonly code = 'SHOAL_PROBE_PROTOCOL'

  constructor(message: string, options?: ErrorOptions) {
    super(ProbeProtocolError.code, message, options)
    this.name = 'ProbeProtocolError'
  }
}

/** A member answered a usage request with a malformed frame. */
export class UsageProtocolError extends ShoalError {
  static override readonly name = 'UsageProtocolError'
  static readonly code = 'SHOAL_USAGE_PROTOCOL'

  constructor(message: string, options?: ErrorOptions) {
    super(UsageProtocolError.code, message, options)
    this.name = 'UsageProtocolError'
  }
}

/** The node was asked to run work with a driver it does not have (no Docker engine, or the driver is off). */
export class DriverUnavailableError extends ShoalError {
  static override readonly name = 'DriverUnavailableError'
  static readonly code = 'SHOAL_DRIVER_UNAVAILABLE'

  constructor(message: string, options?: ErrorOptions) {
    super(DriverUnavailableError.code, message, options)
    this.name = 'DriverUnavailableError'
  }
}

/**
 * The node's policy forbids what the work asks for (a driver it does not run, host networking, a working dir
 * outside the job's directory): it refuses the attempt and never runs it.
 */
export class JobRefusedError extends ShoalError {
  static override readonly name = 'JobRefusedError'
  static readonly code = 'SHOAL_JOB_REFUSED'

  constructor(message: string, options?: ErrorOptions) {
    super(JobRefusedError.code, message, options)
    this.name = 'JobRefusedError'
  }
}

/** No job by that id, or a prefix matches several. */
export class JobNotFoundError extends ShoalError {
  static override readonly name = 'JobNotFoundError'
  static readonly code = 'SHOAL_JOB_NOT_FOUND'

  constructor(message: string, options?: ErrorOptions) {
    super(JobNotFoundError.code, message, options)
    this.name = 'JobNotFoundError'
  }
}

/** The job has already finished: there is nothing to cancel. */
export class JobFinishedError extends ShoalError {
  static override readonly name = 'JobFinishedError'
  static readonly code = 'SHOAL_JOB_FINISHED'

  constructor(message: string, options?: ErrorOptions) {
    super(JobFinishedError.code, message, options)
    this.name = 'JobFinishedError'
  }
}

/** The job has not finished: only a finished job can be retried. */
export class JobNotFinishedError extends ShoalError {
  static override readonly name = 'JobNotFinishedError'
  static readonly code = 'SHOAL_JOB_NOT_FINISHED'

  constructor(message: string, options?: ErrorOptions) {
    super(JobNotFinishedError.code, message, options)
    this.name = 'JobNotFinishedError'
  }
}

/** A submission holds more jobs than one may. */
export class TooManyJobsError extends ShoalError {
  static override readonly name = 'TooManyJobsError'
  static readonly code = 'SHOAL_TOO_MANY_JOBS'

  constructor(message: string, options?: ErrorOptions) {
    super(TooManyJobsError.code, message, options)
    this.name = 'TooManyJobsError'
  }
}

/** A job's log cannot be read: not written yet, gone, or its node unreachable. */
export class LogsUnavailableError extends ShoalError {
  static override readonly name = 'LogsUnavailableError'
  static readonly code = 'SHOAL_LOGS_UNAVAILABLE'

  constructor(message: string, options?: ErrorOptions) {
    super(LogsUnavailableError.code, message, options)
    this.name = 'LogsUnavailableError'
  }
}

/** A peer sent a malformed job-log request or answer. */
export class LogProtocolError extends ShoalError {
  static override readonly name = 'LogProtocolError'
  static readonly code = 'SHOAL_LOG_PROTOCOL'

  constructor(message: string, options?: ErrorOptions) {
    super(LogProtocolError.code, message, options)
    this.name = 'LogProtocolError'
  }
}

/** This node is done reading another node's job log (it ended, or its reader went away). */
export class LogStreamClosedError extends ShoalError {
  static override readonly name = 'LogStreamClosedError'
  static readonly code = 'SHOAL_LOG_STREAM_CLOSED'

  constructor(message: string, options?: ErrorOptions) {
    super(LogStreamClosedError.code, message, options)
    this.name = 'LogStreamClosedError'
  }
}

/** Jobs waited on were still unfinished when the wait timed out. */
export class WaitTimeoutError extends ShoalError {
  static override readonly name = 'WaitTimeoutError'
  static readonly code = 'SHOAL_WAIT_TIMEOUT'

  constructor(message: string, options?: ErrorOptions) {
    super(WaitTimeoutError.code, message, options)
    this.name = 'WaitTimeoutError'
  }
}

// API

/** No such endpoint or file. */
export class NotFoundError extends ShoalError {
  static override readonly name = 'NotFoundError'
  static readonly code = 'SHOAL_NOT_FOUND'

  constructor(message: string, options?: ErrorOptions) {
    super(NotFoundError.code, message, options)
    this.name = 'NotFoundError'
  }
}

/** No node by that id, name or id tail. */
export class NodeNotFoundError extends ShoalError {
  static override readonly name = 'NodeNotFoundError'
  static readonly code = 'SHOAL_NODE_NOT_FOUND'

  constructor(message: string, options?: ErrorOptions) {
    super(NodeNotFoundError.code, message, options)
    this.name = 'NodeNotFoundError'
  }
}

/** A name or id tail matches several nodes. */
export class NodeAmbiguousError extends ShoalError {
  static override readonly name = 'NodeAmbiguousError'
  static readonly code = 'SHOAL_NODE_AMBIGUOUS'

  constructor(message: string, options?: ErrorOptions) {
    super(NodeAmbiguousError.code, message, options)
    this.name = 'NodeAmbiguousError'
  }
}

/** The endpoint does not take that method (or only on the unix socket). */
export class MethodNotAllowedError extends ShoalError {
  static override readonly name = 'MethodNotAllowedError'
  static readonly code = 'SHOAL_METHOD_NOT_ALLOWED'

  constructor(message: string, options?: ErrorOptions) {
    super(MethodNotAllowedError.code, message, options)
    this.name = 'MethodNotAllowedError'
  }
}

/** A request over TCP came without the token the listener requires. */
export class UnauthorizedError extends ShoalError {
  static override readonly name = 'UnauthorizedError'
  static readonly code = 'SHOAL_UNAUTHORIZED'

  constructor(message: string, options?: ErrorOptions) {
    super(UnauthorizedError.code, message, options)
    this.name = 'UnauthorizedError'
  }
}

/** A request's body or parameters are malformed. */
export class BadRequestError extends ShoalError {
  static override readonly name = 'BadRequestError'
  static readonly code = 'SHOAL_BAD_REQUEST'

  constructor(message: string, options?: ErrorOptions) {
    super(BadRequestError.code, message, options)
    this.name = 'BadRequestError'
  }
}

/** Anything thrown that is not a ShoalError (see asShoalError). */
export class InternalError extends ShoalError {
  static override readonly name = 'InternalError'
  static readonly code = 'SHOAL_INTERNAL'

  constructor(message: string, options?: ErrorOptions) {
    super(InternalError.code, message, options)
    this.name = 'InternalError'
  }
}

/** The registry mirror is serving as many requests as it takes at once; the client may retry. */
export class MirrorBusyError extends ShoalError {
  static override readonly name = 'MirrorBusyError'
  static readonly code = 'SHOAL_MIRROR_BUSY'

  constructor(message: string, options?: ErrorOptions) {
    super(MirrorBusyError.code, message, options)
    this.name = 'MirrorBusyError'
  }
}

/** A TCP request's Host names neither loopback, this listener's address nor a --http-name (DNS rebinding). */
export class BadHostError extends ShoalError {
  static override readonly name = 'BadHostError'
  static readonly code = 'SHOAL_BAD_HOST'

  constructor(message: string, options?: ErrorOptions) {
    super(BadHostError.code, message, options)
    this.name = 'BadHostError'
  }
}

/** A write over TCP sent from a page of another origin. */
export class CrossOriginError extends ShoalError {
  static override readonly name = 'CrossOriginError'
  static readonly code = 'SHOAL_CROSS_ORIGIN'

  constructor(message: string, options?: ErrorOptions) {
    super(CrossOriginError.code, message, options)
    this.name = 'CrossOriginError'
  }
}

/** A request's line and headers are larger than the server reads. */
export class HeadersTooLargeError extends ShoalError {
  static override readonly name = 'HeadersTooLargeError'
  static readonly code = 'SHOAL_HEADERS_TOO_LARGE'

  constructor(message: string, options?: ErrorOptions) {
    super(HeadersTooLargeError.code, message, options)
    this.name = 'HeadersTooLargeError'
  }
}

/** A request's headers (or body) did not arrive in time. */
export class RequestTimeoutError extends ShoalError {
  static override readonly name = 'RequestTimeoutError'
  static readonly code = 'SHOAL_REQUEST_TIMEOUT'

  constructor(message: string, options?: ErrorOptions) {
    super(RequestTimeoutError.code, message, options)
    this.name = 'RequestTimeoutError'
  }
}

/** As many event streams are open as --max-event-clients allows. */
export class TooManyEventClientsError extends ShoalError {
  static override readonly name = 'TooManyEventClientsError'
  static readonly code = 'SHOAL_TOO_MANY_EVENT_CLIENTS'

  constructor(message: string, options?: ErrorOptions) {
    super(TooManyEventClientsError.code, message, options)
    this.name = 'TooManyEventClientsError'
  }
}

// CLI

/** No daemon answers on the data directory's socket. */
export class DaemonUnreachableError extends ShoalError {
  static override readonly name = 'DaemonUnreachableError'
  static readonly code = 'SHOAL_DAEMON_UNREACHABLE'

  constructor(message: string, options?: ErrorOptions) {
    super(DaemonUnreachableError.code, message, options)
    this.name = 'DaemonUnreachableError'
  }
}

/** The daemon answered with something other than JSON. */
export class BadResponseError extends ShoalError {
  static override readonly name = 'BadResponseError'
  static readonly code = 'SHOAL_BAD_RESPONSE'

  constructor(message: string, options?: ErrorOptions) {
    super(BadResponseError.code, message, options)
    this.name = 'BadResponseError'
  }
}

/** Jobs waited on finished, but not all of them succeeded. */
export class JobsUnsuccessfulError extends ShoalError {
  static override readonly name = 'JobsUnsuccessfulError'
  static readonly code = 'SHOAL_JOBS_UNSUCCESSFUL'

  constructor(message: string, options?: ErrorOptions) {
    super(JobsUnsuccessfulError.code, message, options)
    this.name = 'JobsUnsuccessfulError'
  }
}

// Services

/** A service spec, spec file or controller action is invalid (nothing was written). */
export class InvalidServiceError extends ShoalError {
  static override readonly name = 'InvalidServiceError'
  static readonly code = 'SHOAL_INVALID_SERVICE'

  constructor(message: string, options?: ErrorOptions) {
    super(InvalidServiceError.code, message, options)
    this.name = 'InvalidServiceError'
  }
}

/** No service has that name, or a prefix matches several. */
export class ServiceNotFoundError extends ShoalError {
  static override readonly name = 'ServiceNotFoundError'
  static readonly code = 'SHOAL_SERVICE_NOT_FOUND'

  constructor(message: string, options?: ErrorOptions) {
    super(ServiceNotFoundError.code, message, options)
    this.name = 'ServiceNotFoundError'
  }
}

/** A service of that name exists already (update it, or remove it first). */
export class ServiceExistsError extends ShoalError {
  static override readonly name = 'ServiceExistsError'
  static readonly code = 'SHOAL_SERVICE_EXISTS'

  constructor(message: string, options?: ErrorOptions) {
    super(ServiceExistsError.code, message, options)
    this.name = 'ServiceExistsError'
  }
}

/** A service's persistent variables are over their size limit. */
export class VarsTooLargeError extends ShoalError {
  static override readonly name = 'VarsTooLargeError'
  static readonly code = 'SHOAL_VARS_TOO_LARGE'

  constructor(message: string, options?: ErrorOptions) {
    super(VarsTooLargeError.code, message, options)
    this.name = 'VarsTooLargeError'
  }
}

/** A git source could not be cloned, fetched or resolved (bad URL, missing ref, no network, refused credentials). */
export class GitSourceError extends ShoalError {
  static override readonly name = 'GitSourceError'
  static readonly code = 'SHOAL_GIT_FAILED'

  constructor(message: string, options?: ErrorOptions) {
    super(GitSourceError.code, message, options)
    this.name = 'GitSourceError'
  }
}

/** Turns anything thrown into a ShoalError, keeping the original as `cause`. */
export function asShoalError(err: unknown): ShoalError {
  if (err instanceof ShoalError) return err
  const message = err instanceof Error ? err.message : String(err)
  return new InternalError(message, { cause: err })
}
