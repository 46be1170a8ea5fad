/**
 * A store that answers at once, for measuring the runner's own work: `claim`
 * hands out synthetic claimed no-op jobs (up to `n` per round), `completeMany`
 * accepts every completion, nothing else touches a database. Used by
 * `runnerOverhead.ts` and `telemetry.ts`, which compare builds or settings by
 * the runner's CPU per 1,000 jobs.
 */
import { Effect, Schema, Stream } from "effect"
import { JobDefinition, MemoryStore, RetryPolicy } from "@jobtrack/core"
import type { JobRecord, JobStoreShape } from "@jobtrack/core"

export interface InstantStore {
  /** The no-op definition the runner runs; its handler counts calls (no services needed). */
  readonly noop: JobDefinition.JobDefinition<JobDefinition.Codec, JobDefinition.Codec, unknown, never>
  readonly store: JobStoreShape
  /** Start a round: hand out `n` jobs again; resolves when the handler ran `n` times. */
  readonly round: () => Promise<void>
}

export const make = async (n: number): Promise<InstantStore> => {
  let seen = 0
  let done: () => void = () => {}
  let handedOut = 0
  const noop = JobDefinition.make({
    type: "noop",
    payload: Schema.Struct({ i: Schema.Int }),
    retry: RetryPolicy.none,
    handler: () => Effect.sync(() => {
      if (++seen === n) done()
    })
  })
  const base = await Effect.runPromise(MemoryStore.make)
  const template = (await Effect.runPromise(base.enqueue({
    id: "00000000-0000-7000-8000-000000000000", type: "noop", queue: "default", payload: { i: 1 }, owner: null, key: null,
    maxAttempts: 1, priority: 0, runAt: new Date(0), groupKey: null, groupLimit: null,
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
  }))).job
  const store: JobStoreShape = {
    ...base,
    changes: Stream.never,
    claim: ({ limit }) =>
      Effect.sync(() => {
        const count = Math.min(limit, n - handedOut)
        const jobs: Array<JobRecord> = []
        for (let k = 0; k < count; k++) {
          const i = handedOut++
          jobs.push({ ...template, id: `job-${i}`, status: "processing", attempts: 1, token: 1, payload: { i } })
        }
        return jobs
      }),
    completeMany: (items) =>
      Effect.succeed({ completed: items.map((c) => c.lease.id), refused: [] }),
    recoverExpired: () => Effect.succeed([]),
    stats: () => base.stats({})
  }
  const round = () => {
    seen = 0
    handedOut = 0
    return new Promise<void>((r) => (done = r))
  }
  return { noop, store, round }
}
