// The page's views as URL fragments (#/jobs?state=running&page=2), so that every view can be linked and reloaded.
import { JOB_STATES, type JobState } from './job-types.js'

export interface JobFilter {
  state: JobState | null
  /** `key=value` */
  tag: string | null
  /** Peer id. */
  node: string | null
  /** 0-based. */
  page: number
}

export type Route =
  | { view: 'mesh' }
  | { view: 'jobs'; filter: JobFilter }
  | { view: 'job'; id: string }
  | { view: 'layers' }
  | { view: 'history' }
  | { view: 'services' }

export type ViewName = Route['view']

export const NO_FILTER: JobFilter = { state: null, tag: null, node: null, page: 0 }

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?', 2)
  const parts = path.split('/').filter(Boolean)
  switch (parts[0]) {
    case 'jobs':
      if (parts[1] !== undefined) return { view: 'job', id: decodeURIComponent(parts[1]) }
      return { view: 'jobs', filter: parseFilter(new URLSearchParams(query)) }
    case 'layers':
      return { view: 'layers' }
    case 'history':
      return { view: 'history' }
    case 'services':
      return { view: 'services' }
    default:
      return { view: 'mesh' }
  }
}

function parseFilter(params: URLSearchParams): JobFilter {
  const state = params.get('state')
  const page = Number.parseInt(params.get('page') ?? '', 10)
  return {
    state: JOB_STATES.includes(state as JobState) ? (state as JobState) : null,
    tag: nonEmpty(params.get('tag')),
    node: nonEmpty(params.get('node')),
    page: Number.isInteger(page) && page > 0 ? page : 0,
  }
}

const nonEmpty = (value: string | null): string | null => (value === null || value === '' ? null : value)

export function formatRoute(route: Route): string {
  switch (route.view) {
    case 'jobs': {
      const query = filterParams(route.filter)
      if (route.filter.page > 0) query.set('page', String(route.filter.page))
      const text = query.toString()
      return text === '' ? '#/jobs' : `#/jobs?${text}`
    }
    case 'job':
      return `#/jobs/${encodeURIComponent(route.id)}`
    case 'mesh':
      return '#/'
    default:
      return `#/${route.view}`
  }
}

/** The filter as the jobs API takes it (`?state=&tag=&node=`), without paging. */
export function filterParams(filter: JobFilter): URLSearchParams {
  const params = new URLSearchParams()
  if (filter.state !== null) params.set('state', filter.state)
  if (filter.tag !== null) params.set('tag', filter.tag)
  if (filter.node !== null) params.set('node', filter.node)
  return params
}

/** True when a job belongs in the list the filter describes (to place a live update without asking again). */
export function matchesFilter(
  job: { state: JobState; tags: Record<string, string>; node: string | null },
  filter: JobFilter,
): boolean {
  if (filter.state !== null && job.state !== filter.state) return false
  if (filter.node !== null && job.node !== filter.node) return false
  if (filter.tag !== null) {
    const at = filter.tag.indexOf('=')
    const key = at < 0 ? filter.tag : filter.tag.slice(0, at)
    if (!(key in job.tags)) return false
    if (at >= 0 && job.tags[key] !== filter.tag.slice(at + 1)) return false
  }
  return true
}
