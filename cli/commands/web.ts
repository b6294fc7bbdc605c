// `shoal web [--json]`: the URL of the web page this daemon serves (with its token when it listens off loopback).
import { readFile } from 'node:fs/promises'
import type { StatusView } from '../../src/api/types.js'
import { dataDirPaths } from '../../src/daemon/data-dir.js'
import type { ApiClient } from '../client.js'

const LOOPBACK_HOST = /^(localhost|127\.[\d.]+|\[::1\])$/
const ANY_ADDRESS = /^(0\.0\.0\.0|\[::\])$/

export async function webCommand(client: ApiClient, options: { json?: boolean }): Promise<void> {
  const status = await client.get<StatusView>('/v1/status')
  const url = new URL(status.httpUrl)
  if (!LOOPBACK_HOST.test(url.hostname)) {
    // Off loopback the daemon wants its token; the page takes it from its URL and sends it with every request.
    const token = (await readFile(dataDirPaths(client.dataDir).httpToken, 'utf8')).trim()
    url.searchParams.set('token', token)
    // A daemon listening on every address is reached here through loopback.
    if (ANY_ADDRESS.test(url.hostname)) url.hostname = '127.0.0.1'
  }
  const text = url.toString()
  console.log(options.json === true ? JSON.stringify({ url: text }) : text)
}
