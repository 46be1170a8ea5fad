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
  readonly stop = (why: StopReason): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (this.reason !== null) return Effect.void
      this.reason = why
      return this.handler ? Fiber.interrupt(this.handler).pipe(Effect.forkDetach, Effect.asVoid) : Effect.void
    })

  /** The handler's fiber, once started; interrupted at once if a stop came first. */
  readonly attach = (handler: Fiber.Fiber<unknown, unknown>): Effect.Effect<void> =>
    Effect.suspend(() => {
      this.handler = handler
      return this.reason !== null ? Fiber.interrupt(handler).pipe(Effect.forkDetach, Effect.asVoid) : Effect.void
    })
}
