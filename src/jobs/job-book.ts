// The jobs part's records, read and written by job: specs, assignments, run reports and controls behind one face.
import type { KindHandle, LocalWrite, RecordChange, ReplicatedState } from '../state/index.js'
import {
  type AssignValue,
  assignKind,
  type ControlValue,
  controlKind,
  jobKind,
  parseRunId,
  type RunValue,
  runId,
  runKind,
} from './records.js'
import type { JobSpec } from './spec.js'

/** The records of one job, as this node holds them. */
export interface JobRecords {
  spec: JobSpec
  assign: AssignValue | undefined
  control: ControlValue | undefined
  /** The run record of the assignment's current attempt, if its node reported one. */
  run: RunValue | undefined
}

/** Which of a job's records changed. */
export type JobPart = 'spec' | 'assign' | 'run' | 'control'

export interface JobChange {
  id: string
  part: JobPart
  /** The record is gone: deleted (a tombstone), or withdrawn with its coordinator's term. */
  gone: boolean
}

export class JobBook {
  private readonly specs: KindHandle<JobSpec>
  private readonly assigns: KindHandle<AssignValue>
  private readonly runs: KindHandle<RunValue>
  private readonly controls: KindHandle<ControlValue>

  constructor(state: ReplicatedState) {
    this.specs = state.kind(jobKind)
    this.assigns = state.kind(assignKind)
    this.runs = state.kind(runKind)
    this.controls = state.kind(controlKind)
  }

  /** The job's records, if its spec is here (parts of a job can arrive before its spec). */
  read(id: string): JobRecords | undefined {
    const spec = this.specs.value(id)
    if (spec === undefined) return undefined
    const assign = this.assigns.value(id)
    const run = assign?.phase === 'assigned' ? this.runs.value(runId(id, assign.attempt)) : undefined
    return {
      spec,
      assign,
      control: this.controls.value(id),
      run: run !== undefined && run.node === assign?.node ? run : undefined,
    }
  }

  spec(id: string): JobSpec | undefined {
    return this.specs.value(id)
  }

  /** True if the job's spec is here and not deleted. */
  has(id: string): boolean {
    return this.specs.value(id) !== undefined
  }

  /** True if the job's spec ever reached this node: held, or deleted (collected) and its tombstone kept. */
  known(id: string): boolean {
    return this.specs.get(id) !== undefined
  }

  /** Every job spec held. */
  *allSpecs(): IterableIterator<JobSpec> {
    for (const [, spec] of this.specs.entries()) yield spec
  }

  /** Ids of every job held. */
  ids(): string[] {
    return this.specs.list().map((record) => this.specs.idOf(record.key))
  }

  assignment(id: string): AssignValue | undefined {
    return this.assigns.value(id)
  }

  control(id: string): ControlValue | undefined {
    return this.controls.value(id)
  }

  /** What a node reported of one attempt. */
  run(id: string, attempt: number): RunValue | undefined {
    return this.runs.value(runId(id, attempt))
  }

  /** Ids of the jobs whose current assignment names this node. */
  assignedTo(node: string): string[] {
    const ids: string[] = []
    for (const [id, assign] of this.assigns.entries()) if (assign.node === node) ids.push(id)
    return ids
  }

  /** Attempts this node reported running (as its records say: they may have ended since). */
  reportedRunning(node: string): Array<{ id: string; run: RunValue }> {
    const found: Array<{ id: string; run: RunValue }> = []
    for (const [key, run] of this.runs.entries()) {
      if (run.node !== node || run.state !== 'running') continue
      const parsed = parseRunId(key)
      if (parsed !== undefined) found.push({ id: parsed.id, run })
    }
    return found
  }

  /** Calls `watcher` for each change to any record of any job; `parts` narrows which. Returns the unwatch. */
  watch(
    watcher: (change: JobChange) => void,
    parts: readonly JobPart[] = ['spec', 'assign', 'run', 'control'],
  ): () => void {
    const follow = <V>(handle: KindHandle<V>, part: JobPart, jobOf: (id: string) => string | undefined) =>
      handle.watch((change: RecordChange<V>) => {
        const id = jobOf(change.id)
        if (id !== undefined) watcher({ id, part, gone: change.value === undefined })
      })
    const same = (id: string): string => id
    const unwatches = parts.map((part) => {
      if (part === 'spec') return follow(this.specs, part, same)
      if (part === 'assign') return follow(this.assigns, part, same)
      if (part === 'control') return follow(this.controls, part, same)
      return follow(this.runs, part, (id) => parseRunId(id)?.id)
    })
    return () => {
      for (const unwatch of unwatches) unwatch()
    }
  }

  /** Writes of new specs. */
  specWrites(specs: readonly JobSpec[]): LocalWrite[] {
    return specs.map((spec) => this.specs.entry(spec.id, spec))
  }

  /** Writes of assignments (the coordinator writes them under its term). */
  assignmentWrites(assignments: ReadonlyArray<readonly [id: string, value: AssignValue]>): LocalWrite[] {
    return assignments.map(([id, value]) => this.assigns.entry(id, value))
  }

  /** Writes of run reports (this node's own). */
  runWrites(reports: ReadonlyArray<readonly [id: string, value: RunValue]>): LocalWrite[] {
    return reports.map(([id, value]) => this.runs.entry(runId(id, value.attempt), value))
  }

  controlWrite(id: string, value: ControlValue): LocalWrite {
    return this.controls.entry(id, value)
  }

  /**
   * The deletions that collect a finished job: `fenced` (the assignment, written under the coordinator's
   * term) and `plain` (the rest: a term on their tombstones would outrank every later write of those keys,
   * so a resubmission could never land).
   */
  deletions({ spec, assign }: JobRecords): { fenced: LocalWrite[]; plain: LocalWrite[] } {
    const id = spec.id
    const plain: LocalWrite[] = [this.specs.removal(id)]
    if (this.controls.value(id) !== undefined) plain.push(this.controls.removal(id))
    for (let attempt = 1; attempt <= (assign?.attempt ?? 1); attempt++) {
      if (this.runs.value(runId(id, attempt)) !== undefined) plain.push(this.runs.removal(runId(id, attempt)))
    }
    const fenced = this.assigns.value(id) === undefined ? [] : [this.assigns.removal(id)]
    return { fenced, plain }
  }
}
