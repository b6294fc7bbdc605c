// The jobs table: filtered by state, tag and node on the server, a page of rows at a time, rows live from events.
import { useEffect, useState } from 'preact/hooks'
import { Empty, ErrorNote, Loading, StatePill, Tags } from '../components/pieces.js'
import { ago, duration, plural } from '../format.js'
import { useApi } from '../hooks.js'
import { liveRows } from '../job-rows.js'
import { JOB_STATES, type JobList, type JobState, type JobView } from '../job-types.js'
import { filterParams, formatRoute, type JobFilter } from '../route.js'
import type { ClusterStore } from '../store.js'

export const JOBS_PAGE_SIZE = 100

export const SUBMIT_HINT = "shoal job submit --exec -- sh -c 'echo hello'"

function go(filter: JobFilter): void {
  location.hash = formatRoute({ view: 'jobs', filter })
}

export function JobsView({ store, filter }: { store: ClusterStore; filter: JobFilter }) {
  const params = filterParams(filter)
  params.set('limit', String(JOBS_PAGE_SIZE))
  params.set('offset', String(filter.page * JOBS_PAGE_SIZE))
  const list = useApi<JobList>(store.jobsApi === false ? null : `/v1/jobs?${params}`, store.jobsVersion, 500)
  const filtered = filter.state !== null || filter.tag !== null || filter.node !== null
  const rows =
    list.data === undefined ? undefined : liveRows(list.data, store.jobEvents, filter, JOBS_PAGE_SIZE)
  return (
    <section aria-labelledby="view-title">
      <h2 id="view-title" tabIndex={-1}>
        Jobs
      </h2>
      {store.jobsApi === false ? (
        <Empty title={`This daemon (shoal ${store.status?.version ?? ''}) has no jobs API.`}>
          <p>Jobs appear here once the daemon that serves this page runs a version with jobs.</p>
        </Empty>
      ) : (
        <>
          <Filters store={store} filter={filter} />
          {list.error !== undefined && <ErrorNote error={list.error} what="the jobs" />}
          {list.loading ? (
            <Loading what="jobs" />
          ) : rows === undefined ? null : rows.total === 0 && !filtered ? (
            <Empty title="No jobs yet.">
              <p>
                Submit one from any node: <code>{SUBMIT_HINT}</code>
              </p>
            </Empty>
          ) : rows.jobs.length === 0 && rows.total > 0 ? (
            <Empty title="This page is past the last one.">
              <p>
                <a href={formatRoute({ view: 'jobs', filter: { ...filter, page: 0 } })}>
                  Go to the first page
                </a>
              </p>
            </Empty>
          ) : rows.total === 0 ? (
            <Empty title="No jobs match this filter.">
              <p>
                <a
                  href={formatRoute({
                    view: 'jobs',
                    filter: { state: null, tag: null, node: null, page: 0 },
                  })}
                >
                  Show all jobs
                </a>
              </p>
            </Empty>
          ) : (
            <>
              <JobTable jobs={rows.jobs} />
              <Pager filter={filter} total={rows.total} />
            </>
          )}
        </>
      )}
    </section>
  )
}

function Filters({ store, filter }: { store: ClusterStore; filter: JobFilter }) {
  const [tag, setTag] = useState(filter.tag ?? '')
  useEffect(() => store.watchTotals(), [store])
  useEffect(() => setTag(filter.tag ?? ''), [filter.tag])
  const totals = store.jobTotals
  const nodes = [...store.nodes.values()].sort((a, b) => a.name.localeCompare(b.name))
  const applyTag = (): void => {
    const value = tag.trim()
    if (value !== (filter.tag ?? '')) go({ ...filter, tag: value === '' ? null : value, page: 0 })
  }
  return (
    <form
      class="filters"
      aria-label="Filter jobs"
      onSubmit={(event) => {
        event.preventDefault()
        applyTag()
      }}
    >
      <label>
        State
        <select
          id="job-state-filter"
          value={filter.state ?? ''}
          onChange={(event) => {
            const value = event.currentTarget.value
            go({ ...filter, state: value === '' ? null : (value as JobState), page: 0 })
          }}
        >
          <option value="">all{totals === undefined ? '' : ` (${sum(totals).toLocaleString('en')})`}</option>
          {JOB_STATES.map((state) => (
            <option key={state} value={state}>
              {state}
              {totals === undefined ? '' : ` (${totals[state].toLocaleString('en')})`}
            </option>
          ))}
        </select>
      </label>
      <label>
        Tag
        <input
          id="job-tag-filter"
          type="search"
          placeholder="key=value"
          value={tag}
          onInput={(event) => setTag(event.currentTarget.value)}
          onBlur={applyTag}
        />
      </label>
      <label>
        Node
        <select
          id="job-node-filter"
          value={filter.node ?? ''}
          onChange={(event) => {
            const value = event.currentTarget.value
            go({ ...filter, node: value === '' ? null : value, page: 0 })
          }}
        >
          <option value="">any</option>
          {nodes.map((node) => (
            <option key={node.id} value={node.id}>
              {node.name}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" class="button">
        Apply
      </button>
    </form>
  )
}

function sum(totals: Record<JobState, number>): number {
  return Object.values(totals).reduce((a, b) => a + b, 0)
}

function JobTable({ jobs }: { jobs: JobView[] }) {
  const now = Date.now()
  return (
    <div class="table-wrap">
      <table class="jobs">
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">State</th>
            <th scope="col">Node</th>
            <th scope="col">Tags</th>
            <th scope="col">Created</th>
            <th scope="col">Ran for</th>
            <th scope="col">Exit</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((job) => {
            const ran =
              job.startedAt === null
                ? null
                : (job.finishedAt === null ? now : Date.parse(job.finishedAt)) - Date.parse(job.startedAt)
            return (
              <tr key={job.id} data-job-id={job.id} data-state={job.state}>
                <th scope="row">
                  <a href={formatRoute({ view: 'job', id: job.id })}>{job.name}</a>
                  <span class="muted id"> {job.id}</span>
                </th>
                <td>
                  <StatePill state={job.state} />
                  {job.attempt > 1 && <span class="muted"> attempt {job.attempt}</span>}
                </td>
                <td>{job.nodeName ?? (job.node === null ? '–' : job.node)}</td>
                <td>
                  <Tags tags={job.tags} kind="tag" />
                </td>
                <td>
                  <time dateTime={job.createdAt} title={job.createdAt}>
                    {ago(job.createdAt, now)}
                  </time>
                </td>
                <td>{ran === null ? '–' : duration(ran)}</td>
                <td>{job.exitCode ?? '–'}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

function Pager({ filter, total }: { filter: JobFilter; total: number }) {
  const pages = Math.max(1, Math.ceil(total / JOBS_PAGE_SIZE))
  const page = Math.min(filter.page, pages - 1)
  const first = page * JOBS_PAGE_SIZE + 1
  const last = Math.min(total, (page + 1) * JOBS_PAGE_SIZE)
  const to = (target: number) => formatRoute({ view: 'jobs', filter: { ...filter, page: target } })
  return (
    <nav class="pager" aria-label="Pages of jobs">
      <span data-testid="jobs-range">
        {first.toLocaleString('en')}–{last.toLocaleString('en')} of {plural(total, 'job')}
      </span>
      <PageLink href={to(0)} enabled={page > 0} label="First" />
      <PageLink href={to(page - 1)} enabled={page > 0} label="Previous" />
      <span>
        page {page + 1} of {pages.toLocaleString('en')}
      </span>
      <PageLink href={to(page + 1)} enabled={page < pages - 1} label="Next" />
      <PageLink href={to(pages - 1)} enabled={page < pages - 1} label="Last" />
    </nav>
  )
}

function PageLink({ href, enabled, label }: { href: string; enabled: boolean; label: string }) {
  return enabled ? (
    <a class="button" href={href}>
      {label}
    </a>
  ) : (
    <span class="button" aria-disabled="true">
      {label}
    </span>
  )
}
