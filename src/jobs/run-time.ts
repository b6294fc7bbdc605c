// How long attempts run, as the coordinator sees them end (a moving average): whether queuing work ahead pays.

/** Weight of each new observation: one 60 s job lifts an average of 20 ms past 3 s at once. */
const WEIGHT = 0.05

export class RunTimeAverage {
  private average: number | undefined

  observe(startedAt: number | null, finishedAt: number | null): void {
    if (startedAt === null || finishedAt === null || finishedAt < startedAt) return
    const ms = finishedAt - startedAt
    this.average = this.average === undefined ? ms : this.average * (1 - WEIGHT) + ms * WEIGHT
  }

  /** The average run time in ms; undefined until an attempt has been seen to end. */
  get ms(): number | undefined {
    return this.average
  }
}
