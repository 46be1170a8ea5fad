/**
 * An attempt's abort signal, made only when the handler reads it: most
 * handlers never do, and an `AbortController` (an `EventTarget`) is among the
 * heavier objects of a job's run. Aborting before the signal was read keeps
 * the reason, so a signal read afterwards is already aborted with it.
 *
 * @internal
 */

export class LazyAbort {
  private controller: AbortController | undefined
  private reason: unknown
  private aborted = false

  /** The signal (made now if it was not yet). */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.aborted) this.controller.abort(this.reason)
    }
    return this.controller.signal
  }

  /** Abort with `reason`; the first abort wins, as with `AbortController`. */
  abort(reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    this.controller?.abort(reason)
  }

  get isAborted(): boolean {
    return this.aborted
  }
}
