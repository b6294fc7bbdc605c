// The page's frame: header with the daemon and the connection, the view tabs, the current view, the key hints.
import { shortId } from './format.js'
import { NO_FILTER, type Route, type ViewName } from './route.js'
import type { ClusterStore } from './store.js'
import { HistoryView } from './views/history.js'
import { JobDetailView } from './views/job.js'
import { JobsView } from './views/jobs.js'
import { LayersView } from './views/layers.js'
import { MeshView } from './views/mesh.js'
import { ServicesView } from './views/services.js'

/** The tabs, in the order the number keys select them. */
export const TABS: ReadonlyArray<{ view: ViewName; label: string; href: string }> = [
  { view: 'mesh', label: 'Mesh', href: '#/' },
  { view: 'jobs', label: 'Jobs', href: '#/jobs' },
  { view: 'layers', label: 'Images & layers', href: '#/layers' },
  { view: 'history', label: 'History', href: '#/history' },
  { view: 'services', label: 'Services', href: '#/services' },
]

export function App({ store, route }: { store: ClusterStore; route: Route }) {
  const current = route.view === 'job' ? 'jobs' : route.view
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <h1>
          shoal
          {store.status !== undefined && (
            <span class="muted self" title={store.status.peerId}>
              {' '}
              · {store.status.name} ({shortId(store.status.peerId)})
            </span>
          )}
        </h1>
        <ConnectionNote store={store} />
      </header>
      <nav class="tabs" aria-label="Views">
        {TABS.map((tab, i) => (
          <a
            key={tab.view}
            href={tab.href}
            class="tab"
            aria-current={tab.view === current ? 'page' : undefined}
            aria-keyshortcuts={String(i + 1)}
          >
            {tab.label}
          </a>
        ))}
      </nav>
      <main id="main">
        <View store={store} route={route} />
      </main>
      <footer class="foot muted">
        Keys: 1–5 switch views · / filters jobs · Tab moves between links and fields.
        {store.status !== undefined &&
          ` shoal ${store.status.version}, swarm ${store.status.swarmKeyFingerprint}.`}
      </footer>
    </>
  )
}

function View({ store, route }: { store: ClusterStore; route: Route }) {
  switch (route.view) {
    case 'jobs':
      return <JobsView store={store} filter={route.filter ?? NO_FILTER} />
    case 'job':
      return <JobDetailView store={store} id={route.id} />
    case 'layers':
      return <LayersView store={store} />
    case 'history':
      return <HistoryView store={store} />
    case 'services':
      return <ServicesView store={store} />
    default:
      return <MeshView store={store} />
  }
}

function ConnectionNote({ store }: { store: ClusterStore }) {
  const lags = store.lags.slice(-20).sort((a, b) => a - b)
  const median = lags[Math.floor(lags.length / 2)]
  const text =
    store.connection === 'live'
      ? `live${median === undefined ? '' : ` · changes shown ${Math.max(0, Math.round(median))} ms after they happen`}`
      : store.connection === 'connecting'
        ? 'connecting…'
        : `reconnecting…${store.problem === undefined ? '' : ` (${store.problem})`}`
  return (
    <p class={`connection connection-${store.connection}`} role="status" data-connection={store.connection}>
      <span class="dot" aria-hidden="true" />
      {text}
    </p>
  )
}
