// Image references (`[registry/]name[:tag][@digest]`), parsed the way Docker parses them.
import { InvalidReferenceError } from '../errors.js'
import { type Digest, isDigest } from './digest.js'

export const DOCKER_HUB = 'docker.io'
/** Where Docker Hub's registry API actually answers. */
export const DOCKER_HUB_API = 'registry-1.docker.io'

export interface ImageReference {
  /** Registry host[:port] as written (`docker.io` for Docker Hub). */
  registry: string
  /** Repository path (`library/alpine`, `team/app`). */
  repository: string
  tag?: string
  digest?: Digest
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/
const HOST =
  /^(?:localhost|[A-Za-z0-9.-]+\.[A-Za-z0-9-]+|[A-Za-z0-9.-]+:\d{1,5}|\[[0-9a-fA-F:]+\](?::\d{1,5})?)$/
const MAX_REFERENCE_LENGTH = 512

export function parseReference(input: string): ImageReference {
  const fail = (why: string): never => {
    throw new InvalidReferenceError(`"${input.slice(0, 100)}" is not an image reference: ${why}`)
  }
  if (input.length === 0 || input.length > MAX_REFERENCE_LENGTH) fail('empty or too long')
  let rest = input
  let digest: Digest | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    const candidate = rest.slice(at + 1)
    if (!isDigest(candidate)) fail('the part after @ is not a sha256 digest')
    digest = candidate as Digest
    rest = rest.slice(0, at)
  }
  let registry = DOCKER_HUB
  const slash = rest.indexOf('/')
  if (slash >= 0 && HOST.test(rest.slice(0, slash))) {
    registry = rest.slice(0, slash)
    rest = rest.slice(slash + 1)
  }
  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon >= 0) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG.test(tag)) fail(`"${tag}" is not a valid tag`)
  }
  const components = rest.split('/')
  if (components.some((part) => !COMPONENT.test(part))) {
    fail('a name is lowercase letters, digits and separators (. _ __ -), in /-separated parts')
  }
  if (registry === DOCKER_HUB && components.length === 1) components.unshift('library')
  if (tag === undefined && digest === undefined) tag = 'latest'
  const reference: ImageReference = { registry, repository: components.join('/') }
  if (tag !== undefined) reference.tag = tag
  if (digest !== undefined) reference.digest = digest
  return reference
}

/** The canonical text: `registry/repository:tag`, `…@digest`, or both. */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`
}

/** The host the registry API answers on. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry
}

/** True for registries on this machine, which may be spoken to over plain HTTP. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}
