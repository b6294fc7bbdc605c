// The jobs part's records, read and written by job: batches of specs, assignments and run reports indexed per job.
import type {
  KindHandle,
  LocalWrite,
  RecordChange,
  ReplicatedState,
  StateRecord,
  Version,
} from '../state/index.js'
import { compareVersions, versionOf } from '../state/index.js'
import { RUN_ATTEMPTS_KEPT } from './constants.js'
import {
  type AssignmentBatch,
  type AssignValue,
  assignmentBatchKind,
  type ControlValue,
  controlKind,
  NO_NODE,
  type RunBatch,
  type RunValue,
  runBatchKind,
  type SpecBatch,
  specBatchKind,
} from './records.js'
import type { JobSpec } from './spec.js'

/** The records of one job, as this node holds them. */
export interface JobRecords {
  spec: JobSpec
  assign: AssignValue | undefined
  control: ControlValue | undefined
  /** The run report of the assignment's current attempt, if its node reported one. */
  run: RunValue | undefined
}

/** Which of a job's records changed. */
export type JobPart = 'spec' | 'assign' | 'run' | 'control'

export interface JobChange {
  id: string
  part: JobPart
  /** The record is gone: its batch deleted (collected), or withdrawn with its coordinator's term. */
  gone: boolean
}

/** Garbage batches: what the coordinator deletes (assignments under its term, the rest plainly). */
export interface Garbage {
  fenced: LocalWrite[]
  plain: LocalWrite[]
  /** Jobs whose every record goes. */
  jobs: number
}

/** A batch is cut at about this many bytes of JSON, well inside the 64 KiB record limit. */
const BATCH_BYTES = 48 * 1024
/** Ids of collected jobs remembered (a wait for a job collected meanwhile counts it as finished). */
const MAX_COLLECTED_IDS = 100_000

interface Entry<V> {
  value: V
  version: Version
  /** The key of the batch record it came in. */
  batch: string
}

/**
 * Specs come in batches per submission, assignments in batches per node and scheduling pass, run reports in
 * batches per node and flush (see records.ts); the book indexes every entry by job, so that a job reads as if it
 * had one record of each: its spec, its assignment (the entry of the batch that orders last), the report of each
 * attempt (its latest), and its control. A job's state stays a pure function of the records held.
 */
export class JobBook {
  private readonly specBatches: KindHandle<SpecBatch>
  private readonly assignmentBatches: KindHandle<AssignmentBatch>
  private readonly runBatches: KindHandle<RunBatch>
  private readonly controls: KindHandle<ControlValue>
  private readonly self: string
  private readonly specs = new Map<string, { spec: JobSpec; batch: string }>()
  /** Every assignment entry of each job, oldest first: the last is in force. */
  private readonly assignments = new Map<string, Array<Entry<AssignValue>>>()
  /** Every report of each job's attempts, oldest first per attempt. */
  private readonly runs = new Map<string, Map<number, Array<Entry<RunValue>>>>()
  /** Jobs each batch record holds entries for, by record key. */
  private readonly batchJobs = new Map<string, string[]>()
  private readonly collected = new Set<string>()
  private readonly watchers = new Set<(change: JobChange) => void>()
  private readonly unwatch: Array<() => void> = []

  constructor(private readonly state: ReplicatedState) {
    this.specBatches = state.kind(specBatchKind)
    this.assignmentBatches = state.kind(assignmentBatchKind)
    this.runBatches = state.kind(runBatchKind)
    this.controls = state.kind(controlKind)
    this.self = state.peerId
  }

  /** Indexes the records held and follows every change to them. */
  start(): void {
    if (this.unwatch.length > 0) return
    for (const record of this.specBatches.list()) this.indexSpecs(record, undefined)
    for (const record of this.assignmentBatches.list()) this.indexAssignments(record, undefined)
    for (const record of this.runBatches.list()) this.indexRuns(record, undefined)
    this.unwatch.push(
      this.specBatches.watch((change) =>
        this.announce(this.indexSpecs(change.record, change.previous), 'spec', change),
      ),
      this.assignmentBatches.watch((change) =>
        this.announce(this.indexAssignments(change.record, change.previous), 'assign', change),
      ),
      this.runBatches.watch((change) =>
        this.announce(this.indexRuns(change.record, change.previous), 'run', change),
      ),
      this.controls.watch((change) => this.announce([change.id], 'control', change)),
    )
  }

  stop(): void {
    for (const unwatch of this.unwatch.splice(0)) unwatch()
  }

  /** Calls `watcher` for each job whose records changed; `parts` narrows which. Returns the unwatch. */
  watch(watcher: (change: JobChange) => void, parts?: readonly JobPart[]): () => void {
    const filtered =
      parts === undefined
        ? watcher
        : (change: JobChange): void => {
            if (parts.includes(change.part)) watcher(change)
          }
    this.watchers.add(filtered)
    return () => this.watchers.delete(filtered)
  }

  /** The job's records, if its spec is here (parts of a job can arrive before its spec). */
  read(id: string): JobRecords | undefined {
    const spec = this.specs.get(id)?.spec
    if (spec === undefined) return undefined
    const assign = this.assignment(id)
    const run = assign?.phase === 'assigned' ? this.run(id, assign.attempt) : undefined
    return {
      spec,
      assign,
      control: this.controls.value(id),
      run: run !== undefined && run.node === assign?.node ? run : undefined,
    }
  }

  spec(id: string): JobSpec | undefined {
    return this.specs.get(id)?.spec
  }

  /** True if the job's spec is here. */
  has(id: string): boolean {
    return this.specs.has(id)
  }

  /** True if the job's spec ever reached this node: held, or collected since this daemon started. */
  known(id: string): boolean {
    return this.specs.has(id) || this.collected.has(id)
  }

  *allSpecs(): IterableIterator<JobSpec> {
    for (const { spec } of this.specs.values()) yield spec
  }

  ids(): string[] {
    return [...this.specs.keys()]
  }

  /** The assignment in force: the entry of the batch that orders last (term, then stamp). */
  assignment(id: string): AssignValue | undefined {
    return this.assignments.get(id)?.at(-1)?.value
  }

  /** The term the job's assignment in force was made under. */
  assignmentTerm(id: string): number | undefined {
    return this.assignments.get(id)?.at(-1)?.version[0]
  }

  control(id: string): ControlValue | undefined {
    return this.controls.value(id)
  }

  /** What a node reported of one attempt (its latest report). */
  run(id: string, attempt: number): RunValue | undefined {
    return this.runs.get(id)?.get(attempt)?.at(-1)?.value
  }

  /** Ids of the jobs whose assignment in force names this node. */
  assignedTo(node: string): string[] {
    const ids: string[] = []
    for (const [id, entries] of this.assignments) if (entries.at(-1)?.value.node === node) ids.push(id)
    return ids
  }

  /** Attempts this node reported running (as its records say: they may have ended since). */
  reportedRunning(node: string): Array<{ id: string; run: RunValue }> {
    const found: Array<{ id: string; run: RunValue }> = []
    for (const [id, attempts] of this.runs) {
      for (const entries of attempts.values()) {
        const run = entries.at(-1)?.value
        if (run?.node === node && run.state === 'running') found.push({ id, run })
      }
    }
    return found
  }

  /** Writes of new specs: one record per slice of about BATCH_BYTES. */
  specWrites(specs: readonly JobSpec[]): LocalWrite[] {
    return slices(specs, (spec) => spec).map((slice) =>
      this.specBatches.entry(`${this.self}/${this.batchName()}`, { specs: slice }),
    )
  }

  /** Writes of assignments (the coordinator writes them under its term): one record per node per slice. */
  assignmentWrites(assignments: ReadonlyArray<readonly [id: string, value: AssignValue]>): LocalWrite[] {
    const byNode = new Map<string, Array<readonly [string, AssignValue]>>()
    for (const assignment of assignments) {
      const node = assignment[1].node ?? NO_NODE
      let list = byNode.get(node)
      if (list === undefined) {
        list = []
        byNode.set(node, list)
      }
      list.push(assignment)
    }
    const writes: LocalWrite[] = []
    for (const [node, entries] of byNode) {
      for (const slice of slices(entries, ([id, value]) => ({ [id]: value }))) {
        writes.push(
          this.assignmentBatches.entry(`${node}/${this.batchName()}`, { entries: Object.fromEntries(slice) }),
        )
      }
    }
    return writes
  }

  /** Writes of this node's run reports: one record per slice. */
  runWrites(reports: ReadonlyArray<readonly [id: string, value: RunValue]>): LocalWrite[] {
    const flat = reports.map(([job, value]) => ({ ...value, job }))
    return slices(flat, (report) => report).map((slice) =>
      this.runBatches.entry(`${this.self}/${this.batchName()}`, { reports: slice }),
    )
  }

  controlWrite(id: string, value: ControlValue): LocalWrite {
    return this.controls.entry(id, value)
  }

  /**
   * The batches to delete: spec batches whose every job is in `collectable` (those jobs go, with their controls;
   * jobs of a batch that still holds a live job stay until it goes), and assignment and run batches whose every
   * entry belongs to a job that goes or is superseded (a later assignment, a later report of the same attempt, a
   * report of an attempt older than the last RUN_ATTEMPTS_KEPT: a service restarted for months keeps a few).
   */
  garbage(collectable: ReadonlySet<string>): Garbage {
    const going = new Set<string>()
    const plain: LocalWrite[] = []
    for (const record of this.specBatches.list()) {
      const ids = this.batchJobs.get(record.key) ?? []
      if (ids.length === 0 || !ids.every((id) => collectable.has(id))) continue
      for (const id of ids) going.add(id)
      plain.push(this.specBatches.removal(this.specBatches.idOf(record.key)))
    }
    for (const id of going) if (this.controls.value(id) !== undefined) plain.push(this.controls.removal(id))
    const fenced: LocalWrite[] = []
    for (const record of this.assignmentBatches.list()) {
      const ids = this.batchJobs.get(record.key)
      // Not indexed yet: the state holds a record from the moment it is merged, and tells the book once it is
      // durable; a batch judged in between would look as if it held nothing live.
      if (ids === undefined) continue
      const live = (id: string): boolean =>
        !going.has(id) && this.assignments.get(id)?.at(-1)?.batch === record.key
      if (!ids.some(live)) {
        fenced.push(this.assignmentBatches.removal(this.assignmentBatches.idOf(record.key)))
      }
    }
    for (const record of this.runBatches.list()) {
      if (!this.batchJobs.has(record.key)) continue
      const live = record.value!.reports.some(
        (report) =>
          !going.has(report.job) &&
          this.runs.get(report.job)?.get(report.attempt)?.at(-1)?.batch === record.key &&
          report.attempt > this.latestAttempt(report.job) - RUN_ATTEMPTS_KEPT,
      )
      if (!live) plain.push(this.runBatches.removal(this.runBatches.idOf(record.key)))
    }
    return { fenced, plain, jobs: going.size }
  }

  /** The job's latest attempt: its assignment's, or a later one a node reported. */
  private latestAttempt(id: string): number {
    let latest = this.assignment(id)?.attempt ?? 0
    for (const attempt of this.runs.get(id)?.keys() ?? []) latest = Math.max(latest, attempt)
    return latest
  }

  /** A fresh batch name: this node's HLC stamp, unique among everything it writes. */
  private batchName(): string {
    const stamp = this.state.clockNow()
    return `${stamp.wall}-${stamp.counter}`
  }

  private announce(ids: readonly string[], part: JobPart, change: RecordChange<unknown>): void {
    const gone = change.value === undefined
    for (const id of ids) for (const watcher of this.watchers) watcher({ id, part, gone })
  }

  /** Re-indexes the specs of one batch record; returns the jobs touched. */
  private indexSpecs(
    record: StateRecord<SpecBatch> | undefined,
    previous: StateRecord<SpecBatch> | undefined,
  ): string[] {
    const key = (record ?? previous)!.key
    const touched = this.forgetBatch(key, (id) => {
      if (this.specs.get(id)?.batch !== key) return
      this.specs.delete(id)
      if (record?.deleted !== true) return
      // Collected: its assignment and reports go with it, even where their batches still hold live jobs
      // (a batch made in one scheduling pass can mix jobs collected at different times).
      this.rememberCollected(id)
      this.assignments.delete(id)
      this.runs.delete(id)
    })
    if (record?.value != null) {
      const ids = record.value.specs.map((spec) => spec.id)
      for (const spec of record.value.specs) this.specs.set(spec.id, { spec, batch: key })
      this.batchJobs.set(key, ids)
      touched.push(...ids)
    }
    return touched
  }

  private indexAssignments(
    record: StateRecord<AssignmentBatch> | undefined,
    previous: StateRecord<AssignmentBatch> | undefined,
  ): string[] {
    const key = (record ?? previous)!.key
    const touched = this.forgetBatch(key, (id) => dropFrom(this.assignments, id, key))
    if (record?.value != null) {
      const version = versionOf(record)
      const ids = Object.keys(record.value.entries)
      for (const [id, value] of Object.entries(record.value.entries)) {
        insertOrdered(this.assignments, id, { value, version, batch: key })
      }
      this.batchJobs.set(key, ids)
      touched.push(...ids)
    }
    return touched
  }

  private indexRuns(
    record: StateRecord<RunBatch> | undefined,
    previous: StateRecord<RunBatch> | undefined,
  ): string[] {
    const key = (record ?? previous)!.key
    const touched = this.forgetBatch(key, (id) => {
      const attempts = this.runs.get(id)
      if (attempts === undefined) return
      for (const attempt of [...attempts.keys()]) {
        dropFrom(attempts, attempt, key)
      }
      if (attempts.size === 0) this.runs.delete(id)
    })
    if (record?.value != null) {
      const version = versionOf(record)
      const ids: string[] = []
      for (const { job, ...value } of record.value.reports) {
        let attempts = this.runs.get(job)
        if (attempts === undefined) {
          attempts = new Map()
          this.runs.set(job, attempts)
        }
        insertOrdered(attempts, value.attempt, { value, version, batch: key })
        ids.push(job)
      }
      this.batchJobs.set(key, ids)
      touched.push(...ids)
    }
    return touched
  }

  /** Drops what a batch record said (it is replaced or gone); returns the jobs it named. */
  private forgetBatch(key: string, drop: (id: string) => void): string[] {
    const ids = this.batchJobs.get(key) ?? []
    this.batchJobs.delete(key)
    for (const id of new Set(ids)) drop(id)
    return [...ids]
  }

  private rememberCollected(id: string): void {
    this.collected.add(id)
    if (this.collected.size > MAX_COLLECTED_IDS) {
      const oldest = this.collected.values().next().value
      if (oldest !== undefined) this.collected.delete(oldest)
    }
  }
}

/** Inserts an entry keeping the list ordered by version (oldest first). */
function insertOrdered<K, V>(map: Map<K, Array<Entry<V>>>, key: K, entry: Entry<V>): void {
  const list = map.get(key)
  if (list === undefined) {
    map.set(key, [entry])
    return
  }
  let at = list.length
  while (at > 0 && compareVersions(list[at - 1]!.version, entry.version) > 0) at--
  list.splice(at, 0, entry)
}

/** Removes the entries that came in `batch` from `map[key]` (and the key when none is left). */
function dropFrom<K, V>(map: Map<K, Array<Entry<V>>>, key: K, batch: string): void {
  const list = map.get(key)
  if (list === undefined) return
  const kept = list.filter((entry) => entry.batch !== batch)
  if (kept.length === 0) map.delete(key)
  else map.set(key, kept)
}

/** Cuts items into slices of about BATCH_BYTES of JSON each (an item larger than that goes alone). */
function slices<T, J>(items: readonly T[], json: (item: T) => J): T[][] {
  const result: T[][] = []
  let current: T[] = []
  let bytes = 0
  for (const item of items) {
    const size = JSON.stringify(json(item)).length + 1
    if (current.length > 0 && bytes + size > BATCH_BYTES) {
      result.push(current)
      current = []
      bytes = 0
    }
    current.push(item)
    bytes += size
  }
  if (current.length > 0) result.push(current)
  return result
}
