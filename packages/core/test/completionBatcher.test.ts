/**
 * The completion batcher tells each job's run how its completion ended
 * (internal/runner/completionBatcher.ts): committed, or refused with
 * `LeaseLost` when the store did not complete that job, whether the store
 * listed it in `refused` or only left it out of `completed`. A batch the store
 * completed whole is told so without a set of ids (the common case).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { MemoryStore } from "@jobtrack/core"
import type { CompletedMany, JobStoreShape, Lease } from "@jobtrack/core"
import * as CompletionBatcher from "../src/internal/runner/completionBatcher.js"
import { yieldUntil } from "./helpers.js"

type Told = Record<string, string>

/** Offer completions for these leases at once (one batch) and collect what each waiter is told. */
const complete = (answer: (ids: ReadonlyArray<string>) => CompletedMany, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const base = yield* MemoryStore.make
    const store: JobStoreShape = {
      ...base,
      completeMany: (items) => Effect.succeed(answer(items.map((i) => i.lease.id)))
    }
    const batcher = yield* CompletionBatcher.start(store, 30_000)
    const told: Told = {}
    for (const id of ids) {
      const lease: Lease = { id, token: 1 }
      batcher.completeUnsafe(lease, null, { completed: (failure) => void (told[id] = failure?._tag ?? "committed") })
    }
    yield* yieldUntil(() => Object.keys(told).length === ids.length, "every waiter told")
    return told
  })

describe("completion batcher", () => {
  it.effect("a batch completed whole: every waiter is told it committed", () =>
    Effect.gen(function*() {
      const told = yield* complete((ids) => ({ completed: ids, refused: [] }), ["a", "b", "c"])
      assert.deepStrictEqual(told, { a: "committed", b: "committed", c: "committed" })
    }))

  it.effect("a job the store refused is told LeaseLost; the others committed", () =>
    Effect.gen(function*() {
      const told = yield* complete(
        (ids) => ({ completed: ids.filter((id) => id !== "b"), refused: [{ id: "b", token: 1 }] }),
        ["a", "b", "c"]
      )
      assert.deepStrictEqual(told, { a: "committed", b: "LeaseLost", c: "committed" })
    }))

  it.effect("a job left out of `completed` is told LeaseLost even when `refused` does not name it", () =>
    Effect.gen(function*() {
      const told = yield* complete((ids) => ({ completed: ids.filter((id) => id !== "c"), refused: [] }), ["a", "b", "c"])
      assert.deepStrictEqual(told, { a: "committed", b: "committed", c: "LeaseLost" })
    }))
})
