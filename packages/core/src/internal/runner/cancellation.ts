/**
 * Stopping one job's handler: by a cancel request, by shutdown, or because
 * its lease was lost. The first reason wins and decides how the attempt is
 * settled (cancelled, released, dropped).
 *
 * @internal
 */
import { Effect, Fiber } from "effect"

export type StopReason = "cancel" | "shutdown" | "leaseLost"

export class Stopper {
  /** Why the handler was stopped; null while it was not. */
  reason: StopReason | null = null
  private handler: Fiber.Fiber<unknown, unknown> | undefined
  /** The handler's fiber ended (its outcome is decided, though it may still be settling). */
  private done = false

  /**
   * Interrupt the handler for this reason (the first reason wins); before it
   * started: as soon as it starts. Once the handler ended, a shutdown no
   * longer changes its outcome (a failed or timed-out attempt is not released
   * as if it had not run); a cancel or a lost lease still does.
   */
  stop(why: StopReason): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.reason !== null || (this.done && why === "shutdown")) return Effect.void
      this.reason = why
      return this.handler ? Fiber.interrupt(this.handler).pipe(Effect.forkDetach, Effect.asVoid) : Effect.void
    })
  }

  /** The handler's fiber ended: see {@link stop}. */
  handlerEnded(): void {
    this.done = true
  }

  /**
   * The handler's fiber, once started (outside any fiber); interrupted at
   * once if a stop came first.
   */
  attach(handler: Fiber.Fiber<unknown, unknown>): void {
    this.handler = handler
    if (this.reason !== null) handler.interruptUnsafe()
  }
}
