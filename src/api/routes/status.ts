// GET /v1/status: who this daemon is and how it sees the mesh.
import type { ApiContext } from '../context.js'
import { sendJson } from '../http.js'
import type { Route } from '../router.js'
import type { StatusView } from '../types.js'

export function statusView(ctx: ApiContext): StatusView {
  const nodes = { alive: 0, suspect: 0, dead: 0, left: 0 }
  for (const node of ctx.membership.nodes({ all: true })) if (!node.self) nodes[node.state]++
  return {
    peerId: ctx.mesh.peerId,
    name: ctx.facts.name,
    addresses: ctx.mesh.addresses(),
    httpUrl: ctx.httpUrl(),
    dataDir: ctx.facts.dataDir,
    version: ctx.facts.version,
    peers: ctx.mesh.connectedPeers().length,
    records: ctx.state.size(),
    nodes,
    startedAt: new Date(ctx.facts.startedAt).toISOString(),
    uptimeSeconds: Math.round((Date.now() - ctx.facts.startedAt) / 1000),
    swarmKeyFingerprint: ctx.facts.swarmKeyFingerprint,
    blobPort: ctx.layers.blobChannelPort,
    coordinator: ctx.coordinator.view(),
  }
}

export function statusRoutes(ctx: ApiContext): Route[] {
  return [{ method: 'GET', path: '/v1/status', handle: ({ res }) => sendJson(res, 200, statusView(ctx)) }]
}
