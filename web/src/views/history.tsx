// History charts: jobs finished per minute, cluster utilisation, gossip traffic and layer transfers.
import { useEffect } from 'preact/hooks'
import { Chart } from '../components/chart.js'
import { bytes, clock, percent, plural } from '../format.js'
import { rates, utilisation } from '../history.js'
import type { ClusterStore } from '../store.js'

const HOUR_MS = 3_600_000

export function HistoryView({ store }: { store: ClusterStore }) {
  useEffect(() => store.seedFinished(), [store, store.jobsApi])
  const samples = store.stats
  // A missed poll or two is still one line; longer silences (no page was open) are gaps.
  const maxGap = store.statsIntervalMs * 3
  const use = utilisation(samples)
  const since = samples[0]?.at
  // Short histories get a shorter time axis, up to the hour kept.
  const span = since === undefined ? 0 : Date.now() - Date.parse(since)
  const windowMs = Math.min(HOUR_MS, Math.max(10 * 60_000, span))
  const waiting = 'Collecting: a point every few seconds while a page is open.'
  return (
    <section aria-labelledby="view-title">
      <h2 id="view-title" tabIndex={-1}>
        History
      </h2>
      <p class="muted">
        Up to the last hour. Jobs come from the job list and events; the rest is sampled by this daemon every{' '}
        {Math.round(store.statsIntervalMs / 1000)} s while a page is open
        {since === undefined ? '' : `, since ${clock(since)}`}.
      </p>
      <div class="charts">
        <Chart
          title="Jobs finished per minute"
          kind="bars"
          series={[
            {
              label: 'finished',
              color: 1,
              points: store.finished.series(),
              summary: `${store.finished.total().toLocaleString('en')} in the last hour`,
            },
          ]}
          format={(v) => (Number.isInteger(v) ? String(v) : v.toFixed(1))}
          minTop={2}
          empty={store.finished.total() === 0}
          windowMs={HOUR_MS}
          emptyText={
            store.jobsApi === false ? 'This daemon has no jobs API.' : 'No jobs finished in the last hour.'
          }
        />
        <Chart
          title="Cluster utilisation (alive nodes)"
          series={[
            { label: 'CPU (load / CPUs)', color: 1, points: use.cpu },
            { label: 'memory in use', color: 2, points: use.memory },
            { label: 'disk in use', color: 3, points: use.disk },
          ]}
          format={percent}
          max={1}
          windowMs={windowMs}
          emptyText={waiting}
        />
        <Chart
          title="Gossip (this node)"
          series={[
            { label: 'messages in', color: 1, points: rates(samples, (s) => s.gossip.messagesIn, maxGap) },
            { label: 'messages out', color: 2, points: rates(samples, (s) => s.gossip.messagesOut, maxGap) },
            {
              label: 'records by sync',
              color: 3,
              points: rates(samples, (s) => s.gossip.syncRecordsSent + s.gossip.syncRecordsReceived, maxGap),
            },
          ]}
          format={(v) => `${v < 10 ? v.toFixed(1) : Math.round(v)}/s`}
          windowMs={windowMs}
          emptyText={waiting}
        />
        <Chart
          title="Layer transfers (this node's pulls)"
          series={[
            { label: 'from origin', color: 1, points: rates(samples, (s) => s.layerBytes.origin, maxGap) },
            { label: 'from peers', color: 2, points: rates(samples, (s) => s.layerBytes.peer, maxGap) },
          ]}
          format={(v) => `${bytes(v)}/s`}
          minTop={1000}
          windowMs={windowMs}
          emptyText={waiting}
        />
      </div>
      {store.finishedSeed !== undefined && (
        <p class="muted">
          Jobs finished before this page opened are counted from the newest{' '}
          {plural(store.finishedSeed.read, 'job')} of {store.finishedSeed.total.toLocaleString('en')}.
        </p>
      )}
    </section>
  )
}
