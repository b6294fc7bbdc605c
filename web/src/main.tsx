// The page's entry: one store fed by the API and its events, drawn at most once a frame, views chosen by the URL.
import { render } from 'preact'
import { App, TABS } from './app.js'
import { parseRoute } from './route.js'
import { ClusterStore } from './store.js'
import './style.css'

const root = document.getElementById('app')
if (root === null) throw new TypeError('the page has no #app element')

const store = new ClusterStore()
let route = parseRoute(location.hash)
let drawScheduled = false
/** Set by the `/` key on another view: the jobs view it opens focuses its tag filter instead of its heading. */
let focusTagFilter = false

function draw(): void {
  drawScheduled = false
  render(<App store={store} route={route} />, root!)
  store.rendered()
}

function redraw(): void {
  if (drawScheduled) return
  drawScheduled = true
  requestAnimationFrame(draw)
}

store.subscribe(redraw)
addEventListener('hashchange', () => {
  route = parseRoute(location.hash)
  draw()
  // Keyboard and screen reader users land on the new view's heading, not back at the top of the page.
  document.getElementById(focusTagFilter ? 'job-tag-filter' : 'view-title')?.focus()
  focusTagFilter = false
})
// Colours come from CSS variables that the charts read when they draw.
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', redraw)
// "seen 3 s ago" and running times move on even when nothing else does.
setInterval(redraw, 5_000)

addEventListener('keydown', (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey) return
  const target = event.target as HTMLElement
  if (target.closest('input, select, textarea, [contenteditable]') !== null) return
  const tab = TABS[Number(event.key) - 1]
  if (tab !== undefined) {
    location.hash = tab.href
    event.preventDefault()
  } else if (event.key === '/') {
    if (route.view === 'jobs') document.getElementById('job-tag-filter')?.focus()
    else {
      focusTagFilter = true
      location.hash = '#/jobs'
    }
    event.preventDefault()
  }
})

// For developers (and the benchmark): the page's picture of the cluster, as `shoal` in the browser console.
Object.assign(globalThis, { shoal: store })

// The static shell in index.html is what shows until this first draw replaces it.
root.textContent = ''
draw()
store.start()
