/**
 * What every conformance module shares: the options, the job factory, and a
 * `Check` — one named rule test that runs against a fresh store. Modules
 * return their checks as data, so `storeConformance` registers them with
 * vitest and the project's own tests can run one check against a
 * deliberately broken store and see it fail.
 *
 * @since 0.1.0
 */
import { assert } from "@effect/vitest"
import { Effect, Queue, Stream } from "effect"
import type { Option } from "effect"
import { TestClock } from "effect/testing"
import type { Scope } from "effect"
import type { JobRecord, Lease, NewJob } from "../Job.js"
import * as JobId from "../JobId.js"
import type { JobChange, JobStoreShape } from "../JobStore.js"

/**
 * @since 0.1.0
 * @category testing
 */
export interface ConformanceOptions {
  /** A fresh, empty store; built once per test inside the test's scope. */
  readonly makeStore: Effect.Effect<JobStoreShape, unknown, Scope.Scope>
  /**
   * For stores that can join a host transaction (rule 1): run `body` inside a
   * transaction and roll it back (`commit: false`) or commit it.
   */
  readonly transaction?: <A, E>(
    store: JobStoreShape,
    body: Effect.Effect<A, E>,
    commit: boolean
  ) => Effect.Effect<A, E | "rolled back", Scope.Scope>
  /** How many concurrent claimers to race (default 16). */
  readonly claimers?: number
}

/** One rule test: a title and a body run against a fresh store. */
export interface Check {
  readonly title: string
  readonly run: (store: JobStoreShape) => Effect.Effect<void, unknown, Scope.Scope>
}

/** A group of checks for one rule area (one vitest `describe`). */
export interface Rule {
  readonly title: string
  readonly checks: ReadonlyArray<Check>
}

/** What a rule module receives. */
export interface RuleContext {
  readonly options: ConformanceOptions
  /** Concurrent claimers to race. */
  readonly N: number
}

export const check = (title: string, run: Check["run"]): Check => ({ title, run })

/** Run one check against a fresh store from `makeStore`. */
export const runCheck = (
  c: Check,
  makeStore: ConformanceOptions["makeStore"]
): Effect.Effect<void, unknown, Scope.Scope> =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* makeStore
    yield* c.run(store)
  }))

/**
 * A job to insert, with defaults for every field.
 *
 * @since 0.1.0
 * @category testing
 */
export const newJob = (overrides: Partial<NewJob> = {}): NewJob => ({
  id: JobId.make(),
  type: "test",
  queue: "default",
  payload: { n: 1 },
  maxAttempts: 3,
  priority: 0,
  runAt: new Date(0),
  owner: null,
  key: null,
  groupKey: null,
  groupLimit: null,
  ...overrides
})

export const claimReq = (limit: number, workerId = "w1", leaseMs = 30_000) => ({
  queues: ["default"],
  types: ["test"],
  workerId,
  limit,
  leaseMs
})

export const lease = (job: JobRecord): Lease => ({ id: job.id, token: job.token })

/** Fail with the error's tag, so assertions can compare tags. */
export const tagOf = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.flip(effect), (e) => e._tag)

/** Claim one specific job (the only claimable one) and return it. */
export const claimOne = (store: JobStoreShape, workerId = "w1", leaseMs = 30_000) =>
  Effect.map(store.claim(claimReq(1, workerId, leaseMs)), (jobs) => {
    assert.strictEqual(jobs.length, 1, "expected one claimable job")
    return jobs[0]!
  })

/** Registers one check of a rule. */
export type Register = (title: string, run: Check["run"]) => void

/** Build a rule from a body that registers its checks in order. */
export const rule = (title: string, body: (test: Register) => void): Rule => {
  const checks: Array<Check> = []
  body((t, run) => checks.push(check(t, run)))
  return { title, checks }
}

/** A module of the suite: the rules of one area. */
export type RuleModule = (ctx: RuleContext) => Rule

/**
 * Subscribe to the store's changes (open once `Stream.toPull` returns: a store
 * may start listening at its first subscription); the function returned waits,
 * at most 5 s of real time, for the first change that `match` accepts.
 */
export const subscribeChanges = (store: JobStoreShape) =>
  Effect.gen(function*() {
    const received = yield* Queue.unbounded<JobChange>()
    const pull = yield* Stream.toPull(store.changes)
    yield* Stream.fromPull(Effect.succeed(pull)).pipe(
      Stream.runForEach((c) => Queue.offer(received, c)),
      Effect.forkScoped({ startImmediately: true })
    )
    return <C extends JobChange>(match: (change: JobChange) => change is C): Effect.Effect<Option.Option<C>> =>
      Effect.gen(function*() {
        while (true) {
          const c = yield* Queue.take(received)
          if (match(c)) return c
        }
      }).pipe(Effect.timeoutOption("5 seconds"), TestClock.withLive)
  })
