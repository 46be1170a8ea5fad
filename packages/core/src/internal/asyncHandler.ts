/**
 * Adapts a plain async handler (`run`) to the Effect handler the runner
 * calls: the context's methods return Promises, a throw or rejection becomes
 * the attempt's failure (a FatalError, or an error marked fatal, stays
 * recognisable as such), and the attempt's AbortSignal is the runner's, so it
 * aborts on cancel, timeout, shutdown and lease loss.
 */
import { Effect, Exit } from "effect"
import type { Cause } from "effect"
import type { AsyncJobContext, JobContext } from "../JobContext.js"
import { FatalError, isFatal } from "../JobError.js"

const messageOf = (u: unknown): string =>
  u instanceof Error ? u.message || u.name : typeof u === "string" ? u : String(u)

/** A thrown value as the attempt's typed failure. */
export const fromThrown = (u: unknown): unknown =>
  u instanceof FatalError ? u : isFatal(u) ? new FatalError({ message: messageOf(u), cause: u }) : u

/** What a failed step rejects with: the work's own throw, a step error, or an AbortError once stopped. */
const rejection = (cause: Cause.Cause<unknown>): unknown => {
  const fail = cause.reasons.find((r) => r._tag === "Fail")
  if (fail?._tag === "Fail") return fail.error
  const die = cause.reasons.find((r) => r._tag === "Die")
  if (die?._tag === "Die") return die.defect
  return new DOMException("The job attempt was stopped", "AbortError")
}

export const fromAsync = <P, A>(run: (payload: P, context: AsyncJobContext) => Promise<A> | A) =>
(payload: P, ctx: JobContext): Effect.Effect<A, unknown> =>
  Effect.gen(function*() {
    const services = yield* Effect.context<never>()
    const runSync = Effect.runSyncWith(services)
    const runExit = Effect.runPromiseExitWith(services)
    const settled = async <A>(effect: Effect.Effect<A, unknown>): Promise<A> => {
      const exit = await runExit(effect, { signal: ctx.signal })
      if (Exit.isSuccess(exit)) return exit.value
      throw rejection(exit.cause)
    }
    const context: AsyncJobContext = {
      id: ctx.id,
      type: ctx.type,
      attempt: ctx.attempt,
      maxAttempts: ctx.maxAttempts,
      owner: ctx.owner,
      key: ctx.key,
      signal: ctx.signal,
      progress: (percent, message) => {
        // recording is synchronous (the write is coalesced by the runner)
        runSync(ctx.progress(percent, message))
        return Promise.resolve()
      },
      log: (message, fields) => runSync(ctx.log(message, fields)),
      step: (name, work, options) =>
        settled(ctx.step(name, Effect.tryPromise({ try: () => Promise.resolve().then(work), catch: (u) => u }), options)),
      sleep: (duration) => settled(ctx.sleep(duration))
    }
    return yield* Effect.tryPromise({
      try: () => Promise.resolve().then(() => run(payload, context)),
      catch: fromThrown
    })
  })
