/**
 * One job's progress, coalesced: the handler reports as often as it likes;
 * the writer takes the latest value at most once per period, and once more
 * when the handler ends. The writer's parts are made and its fiber started at
 * the first report, so a job that reports no progress costs nothing here. It
 * also writes the lines the attempt kept with `ctx.log` (see `JobLogStore`),
 * on the same schedule.
 *
 * @internal
 */
import { Effect, Fiber, Queue } from "effect"
import type { Lease } from "../../Job.js"
import type { JobStoreShape } from "../../JobStore.js"
import * as Storable from "../../Storable.js"
import type { LogBuffer } from "../telemetry.js"
import * as TextCut from "../textCut.js"
import type { Stopper } from "./cancellation.js"

/**
 * The most a progress message keeps, in UTF-16 code units (an ellipsis marks
 * a cut): it is in every view, list item and change event of the job, so a
 * handler reporting a megabyte of text must not make each of them that large.
 */
export const maxMessageLength = 1_024

/** A progress message as kept: cut to `maxMessageLength`, storable in every store. */
export const messageText = (message: string): string => Storable.storableText(TextCut.cut(message, maxMessageLength))

type Reported = { readonly progress: number; readonly message: string | null }

export interface ProgressWriter {
  /** `JobContext.progress`: record the latest value (clamped to 0–100, two decimals; the message as `messageText`). Call it as a method. */
  report(percent: number, message?: string): Effect.Effect<void>
  /** A report or a kept log line started the writer: closing it may write. */
  readonly used: boolean
  /** A log line was kept: write it with the next write. */
  readonly logged: Effect.Effect<void>
  /** Stop the periodic writer, then write the latest value (and log lines) not written yet. */
  readonly close: Effect.Effect<void>
  /** Stop the periodic writer without writing (the job's run was interrupted). */
  readonly dispose: Effect.Effect<void>
}

/** The writer's working parts, made at the first report or kept log line. */
const active = (
  store: JobStoreShape,
  lease: Lease,
  progressMs: number,
  stopper: Stopper,
  logs: LogBuffer
) => {
  let latest: Reported | null = null
  let written: Reported | null = null
  let writer: { readonly dirty: Queue.Queue<void>; fiber?: Fiber.Fiber<unknown, unknown> } | undefined
  const writeLogs = Effect.suspend(() => {
    if (stopper.reason === "leaseLost") return Effect.void
    const lines = logs.take()
    if (lines.length === 0) return Effect.void
    return store.appendLogs(lease, lines).pipe(
      Effect.catchTag("LeaseLost", () => stopper.stop("leaseLost")),
      Effect.catchTag("StoreError", (e) => Effect.logWarning(`jobtrack: log lines not kept: ${e.reason}`))
    )
  })
  const writeProgress = Effect.suspend(() => {
    const value = latest
    if (value === null || value === written || stopper.reason === "leaseLost") return Effect.void
    written = value
    return store.progress(lease, value.progress, value.message).pipe(
      Effect.catchTag("LeaseLost", () => stopper.stop("leaseLost")),
      Effect.catchTag("StoreError", (e) => Effect.logWarning(`jobtrack: progress write failed: ${e.reason}`))
    )
  })
  const flush = Effect.andThen(writeLogs, writeProgress)
  const startWriter = Effect.gen(function*() {
    const dirty = yield* Queue.sliding<void>(1)
    const w: { readonly dirty: Queue.Queue<void>; fiber?: Fiber.Fiber<unknown, unknown> } = { dirty }
    writer = w
    Queue.offerUnsafe(dirty, undefined)
    w.fiber = yield* Queue.take(dirty).pipe(
      Effect.andThen(flush),
      Effect.andThen(Effect.sleep(progressMs)),
      Effect.forever,
      Effect.forkDetach
    )
  })
  const dirty = Effect.suspend(() => {
    if (writer) return Effect.sync(() => Queue.offerUnsafe(writer!.dirty, undefined))
    return startWriter
  })
  return {
    report: (percent: number, message?: string) => {
      const p = Number.isFinite(percent) ? Math.min(100, Math.max(0, Math.round(percent * 100) / 100)) : 0
      latest = { progress: p, message: message === undefined ? latest?.message ?? null : messageText(message) }
      return dirty
    },
    dirty,
    close: Effect.suspend(() => {
      const fiber = writer?.fiber
      return fiber ? Fiber.interrupt(fiber).pipe(Effect.andThen(flush)) : flush
    }),
    dispose: Effect.suspend(() => {
      const fiber = writer?.fiber
      return fiber ? Fiber.interrupt(fiber) : Effect.void
    })
  }
}

/**
 * A job's progress writer. Made with every job's run, so it is one object
 * and nothing else until the first report or kept log line (its parts and
 * fiber are made then).
 */
class Writer implements ProgressWriter {
  private parts: ReturnType<typeof active> | undefined
  private closed = false
  constructor(
    private readonly store: JobStoreShape,
    private readonly lease: Lease,
    private readonly progressMs: number,
    private readonly stopper: Stopper,
    private readonly logs: LogBuffer
  ) {}

  private use() {
    return (this.parts ??= active(this.store, this.lease, this.progressMs, this.stopper, this.logs))
  }

  /** Whether a report or a log line made the writer's parts: then `close` may have something to write. */
  get used(): boolean {
    return this.parts !== undefined
  }

  report(percent: number, message?: string): Effect.Effect<void> {
    return Effect.suspend(() => (this.closed ? Effect.void : this.use().report(percent, message)))
  }

  get logged(): Effect.Effect<void> {
    return Effect.suspend(() => (this.closed ? Effect.void : this.use().dirty))
  }

  get close(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.closed = true
      return this.parts ? this.parts.close : Effect.void
    })
  }

  get dispose(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.closed = true
      return this.parts ? this.parts.dispose : Effect.void
    })
  }
}

export const make = (
  store: JobStoreShape,
  lease: Lease,
  progressMs: number,
  stopper: Stopper,
  logs: LogBuffer
): ProgressWriter => new Writer(store, lease, progressMs, stopper, logs)
