// Services: each one's desired state against what runs (ready instances, generation applied), its instances, its variables.
import { Empty, ErrorNote, Loading, StatePill, Tags } from '../components/pieces.js'
import { ago, bytes, plural, shellJoin } from '../format.js'
import { useApi } from '../hooks.js'
import type { ClusterStore } from '../store.js'
import type { InstanceView, ServiceView, SlotVars } from '../types.js'

export function ServicesView({ store }: { store: ClusterStore }) {
  const services = [...store.services.values()].sort((a, b) => a.name.localeCompare(b.name))
  const ready = services.filter((service) => service.ready >= service.replicas).length
  return (
    <section aria-labelledby="view-title">
      <h2 id="view-title" tabIndex={-1}>
        Services
      </h2>
      {store.servicesApi === false ? (
        <Empty title="This daemon has no services API (it is older than this page)." />
      ) : store.servicesApi === undefined ? (
        <Loading what="services" />
      ) : services.length === 0 ? (
        <Empty title="No services yet.">
          <p>
            Add one on any node and the mesh keeps it running:{' '}
            <code>shoal service add web --replicas 2 --exec -- python3 -m http.server 8080</code>
          </p>
        </Empty>
      ) : (
        <>
          <p class="summary" data-testid="services-summary">
            {plural(services.length, 'service')}, {ready} with every instance ready
          </p>
          {services.map((service) => (
            <ServiceCard key={service.name} service={service} version={store.servicesVersion} />
          ))}
        </>
      )}
    </section>
  )
}

function ServiceCard({ service, version }: { service: ServiceView; version: number }) {
  const titleId = `service-${service.name}`
  const rolling = service.appliedGeneration !== null && service.appliedGeneration < service.generation
  return (
    <article
      class="service card"
      aria-labelledby={titleId}
      data-service={service.name}
      data-desired={service.desired}
      data-ready={`${service.ready}/${service.replicas}`}
      data-generation={`${service.appliedGeneration ?? '-'}/${service.generation}`}
    >
      <header class="node-head">
        <h3 id={titleId} class="node-name">
          {service.name}
        </h3>
        <StatePill state={service.desired} />
        <span class="badge" data-testid="service-ready">
          {service.ready}/{service.replicas} ready
        </span>
        <span class="badge" data-testid="service-generation">
          generation {service.appliedGeneration ?? '–'} applied of {service.generation}
          {rolling && ' · rolling out'}
        </span>
      </header>
      <p class="node-meta muted">
        {sourceText(service)} · <code>{shellJoin(service.command) || '(the image’s command)'}</code> · updated{' '}
        {ago(service.updatedAt)}
        {service.commitError !== null && ` · git: ${service.commitError}`}
      </p>
      <Tags tags={service.constraints} />
      <Instances service={service} />
      <Variables name={service.name} version={version} />
    </article>
  )
}

function sourceText(service: ServiceView): string {
  if (service.git !== null) {
    const git = `git ${service.git.url}${service.git.ref === null ? '' : ` @ ${service.git.ref}`}`
    return service.image === null ? git : `${git} in ${service.image}`
  }
  return service.driver === 'docker' ? `docker ${service.image ?? ''}` : 'exec'
}

function Instances({ service }: { service: ServiceView }) {
  if (service.instances.length === 0) return <p class="muted">No instances: scaled to 0.</p>
  return (
    <div class="table-wrap">
      <table aria-label={`instances of ${service.name}`}>
        <thead>
          <tr>
            <th scope="col">Slot</th>
            <th scope="col">Node</th>
            <th scope="col">State</th>
            <th scope="col">Health</th>
            <th scope="col">Generation</th>
            <th scope="col">Restarts</th>
            <th scope="col">CPU</th>
            <th scope="col">Memory</th>
            <th scope="col">Disk</th>
            <th scope="col">Commit</th>
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          {service.instances.map((instance) => (
            <InstanceRow key={instance.slot} instance={instance} />
          ))}
        </tbody>
      </table>
    </div>
  )
}

function InstanceRow({ instance }: { instance: InstanceView }) {
  return (
    <tr data-slot={instance.slot} data-state={instance.state} data-node={instance.node ?? ''}>
      <th scope="row">{instance.slot}</th>
      <td>{instance.nodeName ?? instance.node ?? 'not placed'}</td>
      <td>
        <StatePill state={instance.state} />
      </td>
      <td>{instance.health === 'none' ? '–' : <StatePill state={instance.health} />}</td>
      <td>
        {instance.generation ?? '–'}
        {instance.generation !== instance.placedGeneration && ` → ${instance.placedGeneration}`}
      </td>
      <td>{instance.restarts}</td>
      <td>{instance.cpu.toFixed(2)}</td>
      <td>{bytes(instance.memory)}</td>
      <td>{bytes(instance.disk)}</td>
      <td>
        {instance.commit === null ? '–' : <code title={instance.commit}>{instance.commit.slice(0, 12)}</code>}
      </td>
      <td>{instance.reason ?? ''}</td>
    </tr>
  )
}

/** Read from the daemon (they are not in the service's view), again whenever services change. */
function Variables({ name, version }: { name: string; version: number }) {
  const vars = useApi<SlotVars[]>(`/v1/services/${encodeURIComponent(name)}/vars`, version, 1_000)
  if (vars.error !== undefined) return <ErrorNote error={vars.error} what={`the variables of ${name}`} />
  if (vars.data === undefined) return vars.loading ? <Loading what="variables" /> : null
  if (vars.data.length === 0) return null
  return (
    <div class="table-wrap service-vars">
      <table aria-label={`variables of ${name}`}>
        <thead>
          <tr>
            <th scope="col">Slot</th>
            <th scope="col">Variables</th>
            <th scope="col">From</th>
          </tr>
        </thead>
        <tbody>
          {vars.data.map((slot) => (
            <tr key={slot.slot} data-slot={slot.slot}>
              <th scope="row">{slot.slot}</th>
              <td>
                <code data-testid="slot-vars">{JSON.stringify(slot.values)}</code>
              </td>
              <td>
                {slot.replicated
                  ? `written ${slot.updatedAt === null ? '' : ago(slot.updatedAt)}`
                  : 'initial values'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
