/**
 * Adapts a plain async handler (`run`) to the Effect handler the runner
 * calls: the context's methods return Promises, a throw or rejection becomes
 * the attempt's failure (a FatalError, or an error marked fatal, stays
 * recognisable as such), and the attempt's AbortSignal is the runner's, so it
 * aborts on cancel, timeout, shutdown and lease loss. Interruption drops the
 * Promise at once; the runner waits for it to settle before the attempt is
 * over ({@link bodyOf}, `runner/jobRun.ts`).
 */
import { Effect, Exit } from "effect"
import type { Cause, Context } from "effect"
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

/**
 * The async handler's context: one object per attempt; its functions are
 * made when the handler first reads them (destructuring still gives working
 * functions), `signal` is the attempt's (made when first read).
 */
class AsyncContext implements AsyncJobContext {
  readonly id: string
  readonly type: string
  readonly attempt: number
  readonly maxAttempts: number
  readonly owner: string | null
  readonly key: string | null
  private made: {
    runSync?: <A>(effect: Effect.Effect<A, unknown>) => A
    progress?: AsyncJobContext["progress"]
    log?: AsyncJobContext["log"]
    step?: AsyncJobContext["step"]
    sleep?: AsyncJobContext["sleep"]
  } | undefined

  constructor(private readonly ctx: JobContext, private readonly services: Context.Context<never>) {
    this.id = ctx.id
    this.type = ctx.type
    this.attempt = ctx.attempt
    this.maxAttempts = ctx.maxAttempts
    this.owner = ctx.owner
    this.key = ctx.key
  }

  private get fns() {
    return (this.made ??= {})
  }

  private get runSync() {
    return (this.fns.runSync ??= Effect.runSyncWith(this.services))
  }

  /** Run `effect` as the attempt's, rejecting as a step does (see `rejection`); stopped with the attempt. */
  private settled<A>(effect: Effect.Effect<A, unknown>): Promise<A> {
    return Effect.runPromiseExitWith(this.services)(effect, { signal: this.ctx.signal }).then((exit) => {
      if (Exit.isSuccess(exit)) return exit.value
      throw rejection(exit.cause)
    })
  }

  get signal(): AbortSignal {
    return this.ctx.signal
  }

  get progress(): AsyncJobContext["progress"] {
    const { ctx, runSync } = this
    return (this.fns.progress ??= (percent, message) => {
      // recording is synchronous (the write is coalesced by the runner)
      runSync(ctx.progress(percent, message))
      return Promise.resolve()
    })
  }

  get log(): AsyncJobContext["log"] {
    const { ctx, runSync } = this
    return (this.fns.log ??= (message, fields) => runSync(ctx.log(message, fields)))
  }

  get step(): AsyncJobContext["step"] {
    const ctx = this.ctx
    return (this.fns.step ??= (name, work, options) =>
      this.settled(ctx.step(name, Effect.tryPromise({ try: () => Promise.resolve().then(work), catch: (u) => u }), options)))
  }

  get sleep(): AsyncJobContext["sleep"] {
    const ctx = this.ctx
    return (this.fns.sleep ??= (duration) => this.settled(ctx.sleep(duration)))
  }
}

/** Each attempt's handler Promise, by the attempt's context (see {@link bodyOf}). */
const bodies = new WeakMap<JobContext, PromiseLike<unknown>>()

/**
 * The Promise the plain async handler of this attempt returned (settled or
 * not); undefined for an Effect handler or a handler that returned a value.
 * The runner waits for it once it stopped the attempt: dropping the Promise
 * ends the Effect at once, not the work it stands for.
 */
export const bodyOf = (ctx: JobContext): PromiseLike<unknown> | undefined => bodies.get(ctx)

const isThenable = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && typeof (u as { then?: unknown }).then === "function"

/**
 * The Effect handler that runs `run`: called at once on the attempt's fiber;
 * a synchronous throw, a rejection or a returned value settle the attempt as
 * a throw, a rejection or a resolved promise would.
 */
export const fromAsync = <P, A>(run: (payload: P, context: AsyncJobContext) => Promise<A> | A) =>
(payload: P, ctx: JobContext): Effect.Effect<A, unknown> =>
  Effect.withFiber((fiber) => {
    let out: Promise<A> | A
    try {
      out = run(payload, new AsyncContext(ctx, fiber.context))
    } catch (u) {
      return Effect.fail(fromThrown(u))
    }
    if (!isThenable(out)) return Effect.succeed(out)
    const promise = out
    bodies.set(ctx, promise)
    return Effect.tryPromise({ try: () => Promise.resolve(promise), catch: fromThrown })
  })
