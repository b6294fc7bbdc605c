// One job: its spec and state, live from events, and its logs streamed from the node that runs it.
import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, streamText } from '../api.js'
import { ErrorNote, Loading, StatePill, Tags } from '../components/pieces.js'
import { bytes, dateTime, duration, shellJoin } from '../format.js'
import { useApi } from '../hooks.js'
import { isFinal, type JobView } from '../job-types.js'
import { formatRoute } from '../route.js'
import type { ClusterStore } from '../store.js'

/** The log pane keeps the last this many characters (a chatty job can write gigabytes). */
const LOG_KEEP_CHARS = 2_000_000

export function JobDetailView({ store, id }: { store: ClusterStore; id: string }) {
  const fetched = useApi<JobView>(`/v1/jobs/${encodeURIComponent(id)}`, 0)
  const job = store.jobById(id) ?? fetched.data
  return (
    <section aria-labelledby="view-title">
      <p>
        <a href={formatRoute({ view: 'jobs', filter: { state: null, tag: null, node: null, page: 0 } })}>
          ← All jobs
        </a>
      </p>
      <h2 id="view-title" tabIndex={-1}>
        Job {job?.name ?? id}
      </h2>
      {fetched.error !== undefined && job === undefined && (
        <ErrorNote error={fetched.error} what={`job ${id}`} />
      )}
      {job === undefined ? (
        fetched.loading && <Loading what="the job" />
      ) : (
        <>
          <Facts job={job} />
          <h3>Logs</h3>
          <LogPane key={`${job.id}:${job.attempt}:${notStarted(job) ? 'waiting' : 'started'}`} job={job} />
        </>
      )}
    </section>
  )
}

/** Before a node runs it, a job has no logs to read. */
function notStarted(job: JobView): boolean {
  return job.state === 'pending' || job.state === 'assigned'
}

function Facts({ job }: { job: JobView }) {
  const ran =
    job.startedAt === null
      ? null
      : (job.finishedAt === null ? Date.now() : Date.parse(job.finishedAt)) - Date.parse(job.startedAt)
  const rows: Array<[string, preact.ComponentChildren]> = [
    ['State', <StatePill key="state" state={job.state} />],
    ['Id', <code key="id">{job.id}</code>],
    ['Node', job.nodeName ?? job.node ?? '–'],
    ['Attempt', job.attempt],
    ['Exit code', job.exitCode ?? '–'],
    ['Reason', job.reason ?? '–'],
    ['Driver', job.driver === 'docker' ? `docker (${job.image ?? 'no image'})` : 'exec'],
    ['Command', <code key="command">{shellJoin(job.command)}</code>],
    ['Tags', Object.keys(job.tags).length === 0 ? '–' : <Tags key="tags" tags={job.tags} kind="tag" />],
    ['Resources', resourcesText(job.resources)],
    ['Priority', job.priority],
    [
      'Constraints',
      Object.keys(job.constraints).length === 0 ? '–' : <Tags key="constraints" tags={job.constraints} />,
    ],
    ['Timeout', job.timeoutMs === null ? '–' : duration(job.timeoutMs)],
    ['Retries', `${job.retries} (restart: ${job.restart})`],
    [
      'After',
      job.after.length === 0
        ? '–'
        : job.after.map((parent) => (
            <a key={parent} class="after" href={formatRoute({ view: 'job', id: parent })}>
              {parent}
            </a>
          )),
    ],
    ['Created', <When key="created" iso={job.createdAt} />],
    ['Started', <When key="started" iso={job.startedAt} />],
    ['Finished', <When key="finished" iso={job.finishedAt} />],
    ['Ran for', ran === null ? '–' : duration(ran)],
  ]
  return (
    <dl class="facts" data-state={job.state} data-testid="job-facts">
      {rows.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  )
}

function When({ iso }: { iso: string | null }) {
  return iso === null ? '–' : <time dateTime={iso}>{dateTime(iso)}</time>
}

/** What the job asked for; nothing requested is left out. */
function resourcesText(resources: JobView['resources']): string {
  const parts = [
    resources.cpu > 0 ? `${resources.cpu} CPU` : '',
    resources.memory > 0 ? `${bytes(resources.memory)} memory` : '',
    resources.disk > 0 ? `${bytes(resources.disk)} disk` : '',
    resources.gpu > 0 ? `${resources.gpu} GPU` : '',
  ].filter(Boolean)
  return parts.length === 0 ? 'none requested' : parts.join(', ')
}

function LogPane({ job }: { job: JobView }) {
  const [text, setText] = useState('')
  const [status, setStatus] = useState<'waiting' | 'streaming' | 'ended' | ApiError>(
    notStarted(job) ? 'waiting' : 'streaming',
  )
  const pane = useRef<HTMLElement>(null)
  const stick = useRef(true)
  useEffect(() => {
    if (notStarted(job)) return
    const controller = new AbortController()
    const follow = isFinal(job.state) ? '' : '?follow=1'
    streamText(
      `/v1/jobs/${encodeURIComponent(job.id)}/logs${follow}`,
      (chunk) => setText((before) => (before + chunk).slice(-LOG_KEEP_CHARS)),
      controller.signal,
    ).then(
      () => setStatus('ended'),
      (err: unknown) => {
        if (controller.signal.aborted) return
        setStatus(err instanceof ApiError ? err : new ApiError('SHOAL_UNREACHABLE', String(err), 0))
      },
    )
    return () => controller.abort()
  }, [])
  useEffect(() => {
    const element = pane.current
    if (element !== null && stick.current) element.scrollTop = element.scrollHeight
  }, [text])
  return (
    <div class="logs">
      {status instanceof ApiError ? (
        <ErrorNote error={status} what="the logs" />
      ) : (
        <p class="muted" aria-live="polite">
          {status === 'waiting'
            ? 'The job has not started yet: its logs appear here when it runs.'
            : status === 'streaming'
              ? 'Following the logs as they are written…'
              : text === ''
                ? 'The job wrote no output.'
                : 'End of the logs.'}
        </p>
      )}
      {/* Browsers make a scrolling box focusable by keyboard themselves; a tabindex would double it. */}
      <section
        ref={pane}
        class="log-text"
        aria-label={`logs of ${job.name}`}
        onScroll={(event) => {
          const element = event.currentTarget
          stick.current = element.scrollTop + element.clientHeight >= element.scrollHeight - 4
        }}
      >
        <pre data-testid="job-logs">{text}</pre>
      </section>
    </div>
  )
}
