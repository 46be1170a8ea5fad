/** Conformance, rule 1: enqueue is durable; batches; transactions. */
import { assert } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { TestClock } from "effect/testing"
import * as JobId from "../JobId.js"
import { newJob, rule, tagOf } from "./harness.js"
import type { RuleModule } from "./harness.js"

export const enqueueRules: RuleModule = ({ options }) =>
  rule("rule 1: enqueue is durable; batches; transactions", (test) => {
    test("enqueue returns the stored pending job with every field set", (store) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(5_000)
        const input = newJob({ owner: "ann", key: "k1", priority: 3, runAt: new Date(5_000), payload: { a: [1, "x"] } })
        const { created, job } = yield* store.enqueue(input)
        assert.isTrue(created)
        const got = yield* store.get(input.id)
        for (const j of [job, got]) {
          assert.strictEqual(j.id, input.id)
          assert.strictEqual(j.status, "pending")
          assert.deepStrictEqual(j.payload, { a: [1, "x"] })
          assert.strictEqual(j.owner, "ann")
          assert.strictEqual(j.key, "k1")
          assert.strictEqual(j.priority, 3)
          assert.strictEqual(j.attempts, 0)
          assert.strictEqual(j.maxAttempts, 3)
          assert.strictEqual(j.progress, 0)
          assert.isNull(j.result)
          assert.isNull(j.startedAt)
          assert.isNull(j.completedAt)
          assert.isFalse(j.cancelRequested)
          assert.deepStrictEqual(j.errors, [])
          assert.strictEqual(j.createdAt.getTime(), 5_000)
        }
      }))

    test("enqueueMany stores a batch and answers in input order", (store) =>
      Effect.gen(function*() {
        const inputs = Array.from({ length: 25 }, (_, i) => newJob({ payload: { i } }))
        const out = yield* store.enqueueMany(inputs)
        assert.deepStrictEqual(out.map((o) => o.job.id), inputs.map((i) => i.id))
        assert.isTrue(out.every((o) => o.created))
        const page = yield* store.list({ limit: 100 })
        assert.strictEqual(page.items.length, 25)
        assert.deepStrictEqual(yield* store.enqueueMany([]), [])
      }))

    test("get of an unknown id fails with JobNotFound", (store) =>
      Effect.gen(function*() {
        assert.strictEqual(yield* tagOf(store.get(JobId.make())), "JobNotFound")
      }))

    if (options.transaction) {
      const tx = options.transaction
      test("enqueue inside a rolled-back transaction leaves no job; a committed one does", (store) =>
        Effect.gen(function*() {
          const a = newJob()
          const b = newJob()
          // the enqueue itself succeeds inside the transaction; only the rollback undoes it
          let inside: boolean | undefined
          const body = Effect.tap(store.enqueue(a), (r) => Effect.sync(() => (inside = r.created)))
          const rolled = yield* Effect.exit(tx(store, body, false))
          assert.isTrue(inside, "enqueue inside the transaction did not create the job")
          assert.deepStrictEqual(rolled, Exit.fail("rolled back"))
          assert.strictEqual(yield* tagOf(store.get(a.id)), "JobNotFound")
          const committed = yield* tx(store, store.enqueue(b), true)
          assert.isTrue(committed.created)
          assert.strictEqual((yield* store.get(b.id)).status, "pending")
        }))
    }
  })
