// The mesh as a tree: the coordinator at the root, every other node under it, and the jobs each one runs.
import { Bar, Empty, StatePill, Tags } from '../components/pieces.js'
import { ago, bytes, plural, shortId } from '../format.js'
import type { JobView } from '../job-types.js'
import { byStateThenName, gpuModelsOf, gpusOf, usage } from '../node-model.js'
import { formatRoute } from '../route.js'
import type { ClusterStore } from '../store.js'
import type { NodeView } from '../types.js'

/** Jobs listed under a node before "and N more". */
const JOBS_SHOWN_PER_NODE = 8

export function MeshView({ store }: { store: ClusterStore }) {
  const nodes = [...store.nodes.values()].sort(byStateThenName)
  const holder = store.coordinatorId()
  const root = nodes.find((node) => node.id === holder)
  const others = nodes.filter((node) => node !== root)
  const jobsByNode = new Map<string, JobView[]>()
  for (const job of store.activeJobs.values()) {
    if (job.node === null) continue
    const list = jobsByNode.get(job.node) ?? []
    list.push(job)
    jobsByNode.set(job.node, list)
  }
  const counts = { alive: 0, suspect: 0, dead: 0, left: 0 }
  for (const node of nodes) counts[node.state]++
  const card = (node: NodeView) => (
    <NodeCard
      node={node}
      store={store}
      jobs={jobsByNode.get(node.id) ?? []}
      coordinator={node.id === holder}
    />
  )
  return (
    <section aria-labelledby="view-title">
      <h2 id="view-title" tabIndex={-1}>
        Mesh
      </h2>
      <p class="summary" data-testid="mesh-summary">
        {plural(nodes.length, 'node')}: {counts.alive} alive, {counts.suspect} suspect, {counts.dead} dead,{' '}
        {counts.left} left
        {store.jobsApi === true && <> · {plural(store.activeJobs.size, 'job')} on nodes</>}
        {store.coordinator !== undefined && <> · {coordinatorText(store)}</>}
      </p>
      {nodes.length === 0 ? (
        <Empty title="No nodes known yet: this page is still reading the mesh." />
      ) : (
        <ul class="tree" aria-label="Mesh, coordinator first">
          <li class="tree-root">
            {root !== undefined ? (
              card(root)
            ) : (
              <div class="tree-placeholder">
                <strong>No coordinator</strong>
                <span class="muted">
                  {store.coordinator?.status === 'lapsed'
                    ? 'the lease lapsed; an election is due'
                    : 'none elected yet'}
                </span>
              </div>
            )}
            {others.length > 0 && (
              <ul class="tree-children">
                {others.map((node) => (
                  <li key={node.id}>{card(node)}</li>
                ))}
              </ul>
            )}
          </li>
        </ul>
      )}
      {nodes.length === 1 && store.status !== undefined && (
        <Empty title="Only this node so far.">
          <p>
            Start another daemon with this node's swarm key to join it:
            <br />
            <code>
              shoal daemon --swarm-key swarm.key --bootstrap{' '}
              {store.status.addresses[0] ?? '<address of this node>'}
            </code>
          </p>
        </Empty>
      )}
    </section>
  )
}

function coordinatorText(store: ClusterStore): string {
  const view = store.coordinator!
  if (view.status === 'none' || view.holder === null) return 'no coordinator elected yet'
  const name = view.holderName ?? shortId(view.holder)
  return view.status === 'lapsed'
    ? `coordinator lease lapsed (was ${name}, term ${view.term})`
    : `coordinator ${name}, term ${view.term}`
}

function NodeCard({
  node,
  store,
  jobs,
  coordinator,
}: {
  node: NodeView
  store: ClusterStore
  jobs: JobView[]
  coordinator: boolean
}) {
  const share = usage(node)
  const r = node.resources
  const gone = node.state === 'dead' || node.state === 'left'
  const titleId = `node-${node.id}`
  return (
    <article
      class={`node node-${node.state}`}
      aria-labelledby={titleId}
      data-node-id={node.id}
      data-state={node.state}
    >
      <header class="node-head">
        <h3 id={titleId} class="node-name">
          {node.name}
        </h3>
        <StatePill state={node.state} />
        {coordinator && (
          <span class="badge badge-coordinator" data-testid="coordinator-badge">
            coordinator · term {store.coordinator?.term}
          </span>
        )}
        {node.self && <span class="badge">this daemon</span>}
      </header>
      <p class="node-meta muted">
        <span title={node.id}>{shortId(node.id)}</span> · v{node.version} · seen {ago(node.lastSeen)}
        {gpusOf(node) > 0 &&
          ` · ${plural(gpusOf(node), 'GPU')}${gpuModelsOf(node) === '' ? '' : ` (${gpuModelsOf(node)})`}`}
        {!node.eligible && ' · never coordinates'}
      </p>
      {!gone && (
        <div class="bars">
          <Bar
            label="CPU"
            fraction={share.cpu}
            detail={`load ${r.load[0].toFixed(2)} on ${plural(r.cpus, 'CPU')}`}
          />
          <Bar
            label="Memory"
            fraction={share.memory}
            detail={`${bytes(r.memoryTotal - r.memoryFree)} of ${bytes(r.memoryTotal)} in use`}
          />
          <Bar
            label="Disk"
            fraction={share.disk}
            detail={`${bytes(r.diskTotal - r.diskFree)} of ${bytes(r.diskTotal)} in use`}
          />
        </div>
      )}
      <Tags tags={node.labels} />
      {jobs.length > 0 && (
        <ul class="node-jobs" aria-label={`jobs on ${node.name}`}>
          {jobs.slice(0, JOBS_SHOWN_PER_NODE).map((job) => (
            <li key={job.id}>
              <StatePill state={job.state} />{' '}
              <a href={formatRoute({ view: 'job', id: job.id })}>{job.name}</a>
            </li>
          ))}
          {jobs.length > JOBS_SHOWN_PER_NODE && (
            <li>
              <a
                href={formatRoute({
                  view: 'jobs',
                  filter: { state: null, tag: null, node: node.id, page: 0 },
                })}
              >
                and {jobs.length - JOBS_SHOWN_PER_NODE} more
              </a>
            </li>
          )}
        </ul>
      )}
    </article>
  )
}
