// `shoal coordinator [--json]`: who holds the coordinator role, under which term, as the local daemon sees it.
import type { CoordinatorView } from '../../src/api/types.js'
import type { ApiClient } from '../client.js'
import { ago } from '../format.js'

export async function coordinatorCommand(client: ApiClient, options: { json?: boolean }): Promise<void> {
  const view = await client.get<CoordinatorView>('/v1/coordinator')
  if (options.json === true) {
    console.log(JSON.stringify(view, null, 2))
    return
  }
  console.log(describeCoordinator(view))
}

/** One line: "node-a (12D3…) since …, term 4" or why there is none; shared with `shoal status`. */
export function describeCoordinator(view: CoordinatorView): string {
  if (view.status === 'none' || view.holder === null) return 'none elected yet'
  const who = `${view.holderName} (${view.holder})${view.self ? ' — this node' : ''}`
  const since = view.since === null ? '' : `, since ${view.since} (${ago(view.since)})`
  const lapsed = view.status === 'lapsed' ? ' — lease lapsed, election due' : ''
  return `${who}, term ${view.term}${since}${lapsed}`
}
