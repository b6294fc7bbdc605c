// The rows of a page of the jobs table: the page as read, with what events said since (pure, so it is tested).
import type { JobList, JobView } from './job-types.js'
import { type JobFilter, matchesFilter } from './route.js'

/** A page of the table: its rows and how many jobs match in all. */
export type JobRows = Pick<JobList, 'jobs' | 'total'>

/**
 * Rows read from the API are shown as the latest events describe them, and on the first page, jobs that events
 * announced since the read and that sort into it (newest first) are shown at once, before the next read
 * confirms them. A row whose job left the filter stays until that read, rather than jumping away.
 */
export function liveRows(
  fetched: JobRows,
  recent: ReadonlyMap<string, JobView>,
  filter: JobFilter,
  pageSize: number,
): JobRows {
  const rows = fetched.jobs.map((job) => recent.get(job.id) ?? job)
  if (filter.page !== 0) return { jobs: rows, total: fetched.total }
  const shown = new Set(rows.map((job) => job.id))
  const full = rows.length >= pageSize
  const oldestShown = full ? Date.parse(rows.at(-1)!.createdAt) : Number.NEGATIVE_INFINITY
  const added: JobView[] = []
  for (const job of recent.values()) {
    if (shown.has(job.id) || !matchesFilter(job, filter)) continue
    if (Date.parse(job.createdAt) > oldestShown) added.push(job)
  }
  if (added.length === 0) return { jobs: rows, total: fetched.total }
  const jobs = [...added, ...rows].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))
  return { jobs: jobs.slice(0, pageSize), total: fetched.total + added.length }
}
