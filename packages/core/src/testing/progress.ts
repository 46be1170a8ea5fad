/** Conformance, rule 7: progress. */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { claimOne, lease, newJob, rule, tagOf } from "./harness.js"
import type { RuleModule } from "./harness.js"

export const progressRules: RuleModule = (_ctx) =>
  rule("rule 7: progress", (test) => {
    test("only the holder writes progress; readers see the latest", (store) =>
      Effect.gen(function*() {
        yield* store.enqueue(newJob())
        const held = yield* claimOne(store)
        yield* store.progress(lease(held), 10, "Fetching…")
        yield* store.progress(lease(held), 42.5, "Resolving links…")
        const seen = yield* store.get(held.id)
        assert.strictEqual(seen.progress, 42.5)
        assert.strictEqual(seen.progressMessage, "Resolving links…")
        assert.strictEqual(yield* tagOf(store.progress({ id: held.id, token: held.token + 1 }, 99, "x")), "LeaseLost")
        assert.strictEqual((yield* store.get(held.id)).progress, 42.5)
        yield* store.complete(lease(held), null)
        assert.strictEqual(yield* tagOf(store.progress(lease(held), 1, null)), "LeaseLost")
        assert.strictEqual((yield* store.get(held.id)).progress, 100)
      }))
  })
