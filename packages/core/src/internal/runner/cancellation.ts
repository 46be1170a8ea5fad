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

  /** Interrupt the handler for this reason (the first reason wins); before it started: as soon as it starts. */
  stop(why: StopReason): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.reason !== null) return Effect.void
      this.reason = why
      return this.handler ? Fiber.interrupt(this.handler).pipe(Effect.forkDetach, Effect.asVoid) : Effect.void
    })
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
