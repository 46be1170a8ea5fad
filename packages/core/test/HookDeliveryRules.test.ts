/**
 * The hook-delivery rules of the conformance suite (rules 12–15) checked
 * against deliberately broken stores: each must fail at least the rules named
 * here, and MemoryStore must pass them all.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { MemoryStore } from "@jobtrack/core"
import type { JobStoreShape } from "@jobtrack/core"
import { runCheck } from "../src/testing/harness.js"
import type { Check } from "../src/testing/harness.js"
import { hookDeliveryChecks as rules } from "../src/testing/hookDeliveries.js"

const holds = (rule: Check, makeStore: Effect.Effect<JobStoreShape>) =>
  Effect.map(Effect.exit(Effect.scoped(runCheck(rule, makeStore))), Exit.isSuccess)

type Break = (inner: JobStoreShape) => Effect.Effect<JobStoreShape>

const broken = (f: Break) => Effect.flatMap(MemoryStore.make, f)

/**
 * Records each hook delivery in a second write after the transition returned
 * (as the runner did before deliveries were recorded with the transition): a
 * crash between the two loses it.
 */
const recordsAfterTheFact: Break = (inner) =>
  Effect.sync(() => {
    const visible = new Set<string>()
    const publish = Effect.flatMap(inner.listDeliveries({ limit: 500 }), (all) =>
      Effect.sync(() => all.forEach((d) => visible.add(d.id))))
    const later = <A, E>(write: Effect.Effect<A, E>) => Effect.tap(write, () => Effect.forkDetach(publish))
    const shown = <A extends { readonly id: string }>(list: ReadonlyArray<A>) => list.filter((d) => visible.has(d.id))
    return {
      ...inner,
      complete: (lease, result) => later(inner.complete(lease, result)),
      completeMany: (items) => later(inner.completeMany(items)),
      fail: (request) => later(inner.fail(request)),
      cancelled: (lease) => later(inner.cancelled(lease)),
      release: (lease) => later(inner.release(lease)),
      recoverExpired: () => later(inner.recoverExpired()),
      cancel: (id) => later(inner.cancel(id)),
      listDeliveries: (filter) => Effect.map(inner.listDeliveries(filter), shown),
      // only what the second write made visible can be claimed
      claimDeliveries: (request) => Effect.map(inner.claimDeliveries(request), shown)
    }
  })

/** Forgets the deliveries of batched completions. */
const forgetsBatches: Break = (inner) =>
  Effect.sync(() => {
    const forgotten = new Set<string>()
    const keep = <A extends { readonly jobId: string }>(list: ReadonlyArray<A>) => list.filter((d) => !forgotten.has(d.jobId))
    return {
      ...inner,
      completeMany: (items) =>
        Effect.tap(inner.completeMany(items), (out) => Effect.sync(() => out.completed.forEach((id) => forgotten.add(id)))),
      listDeliveries: (filter) => Effect.map(inner.listDeliveries(filter), keep),
      claimDeliveries: (request) => Effect.map(inner.claimDeliveries(request), keep)
    }
  })

/** Hands out deliveries another process holds (ignores delivery leases). */
const ignoresLeases: Break = (inner) =>
  Effect.sync(() => ({
    ...inner,
    claimDeliveries: (request) =>
      Effect.flatMap(inner.claimDeliveries(request), (fresh) =>
        Effect.map(inner.listDeliveries({ status: ["delivering"] }), (held) => {
          const ids = new Set(fresh.map((d) => d.id))
          const matching = held.filter((d) => !ids.has(d.id) && request.types.includes(d.type) && request.events.includes(d.event))
          return [...fresh, ...matching].slice(0, request.limit)
        }))
  }))

/** Keeps deliveries after they were made. */
const neverDeletes: Break = (inner) =>
  Effect.sync(() => ({
    ...inner,
    deliveryDone: (lease) =>
      Effect.asVoid(inner.deliveryFailed({ ...lease, message: "done", retryAt: new Date(8.64e15) }))
  }))

const failing = (f: Break) =>
  Effect.map(
    Effect.forEach(rules, (rule) => Effect.map(holds(rule, broken(f)), (ok) => (ok ? [] : [rule.title]))),
    (r) => r.flat()
  )

describe("hook delivery rules against broken stores", () => {
  it.effect("MemoryStore passes every rule", () =>
    Effect.gen(function*() {
      for (const rule of rules) assert.isTrue(yield* holds(rule, MemoryStore.make), rule.title)
    }))

  it.effect("a store that records the delivery after the transition, not with it, fails rule 12", () =>
    Effect.gen(function*() {
      const failed = yield* failing(recordsAfterTheFact)
      assert.include(failed, "rule 12: complete records one completed delivery with the job as completed, claimable at once")
      assert.include(failed, "rule 12: recoverExpired records a delivery for jobs it fails or cancels, none for those it retries")
    }))

  it.effect("a store that forgets batched completions fails rule 12", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* failing(forgetsBatches), [
        "rule 12: completeMany records a delivery for each completed job, none for a refused one"
      ])
    }))

  it.effect("a store that hands out held deliveries fails rule 13", () =>
    Effect.gen(function*() {
      const failed = yield* failing(ignoresLeases)
      assert.include(failed, "rule 13: claimDeliveries takes only the asked types and events, oldest first, up to the limit, with a lease")
      assert.include(failed, "rule 13: under concurrent claimers a delivery is held in at most one place")
    }))

  it.effect("a store that keeps delivered hooks fails rule 14", () =>
    Effect.gen(function*() {
      const failed = yield* failing(neverDeletes)
      assert.include(failed, "rule 14: deliveryDone deletes the delivery; a second done is refused")
    }))
})
