/**
 * The store conformance suite (`@jobtrack/core/conformance`). One call registers a vitest test for every
 * rule of the store contract (the rules 1–11 documented on `JobStore` and in
 * docs/writing-a-store.md); a store that passes it can back the tracker and
 * the runner. Your own store runs it unchanged:
 *
 * @example
 * ```ts
 * // my-store.test.ts
 * import { storeConformance } from "@jobtrack/core/conformance"
 * storeConformance("MyStore", { makeStore: MyStore.make({ url: process.env.DATABASE_URL }) })
 * ```
 *
 * Time is virtual (`TestClock`): stores must read the time from Effect's
 * `Clock`, never from the database or `Date.now()`.
 *
 * It registers its tests with `@effect/vitest`, so it needs `vitest` (5, which
 * runs on Node 22.12 or newer) and `@effect/vitest` installed beside it. It is
 * its own entry so that `@jobtrack/core/testing` (TestJobs, for host apps on
 * any Node jobtrack supports) needs no test framework.
 *
 * The rules live one area per module under `./testing/`; this module only
 * gathers them.
 *
 * @since 0.2.0
 */
import { describe, it } from "@effect/vitest"
import type { ConformanceOptions } from "./testing/harness.js"
import { runCheck } from "./testing/harness.js"
import { conformanceRules } from "./testing/rules.js"

export type { ConformanceOptions } from "./testing/harness.js"
export { newJob } from "./testing/harness.js"

/**
 * Register the conformance tests for a store.
 *
 * @since 0.1.0
 * @category testing
 */
export const storeConformance = (name: string, options: ConformanceOptions): void => {
  describe(`${name}: store conformance`, () => {
    for (const rule of conformanceRules(options)) {
      describe(rule.title, () => {
        for (const check of rule.checks) {
          it.effect(check.title, () => runCheck(check, options.makeStore))
        }
      })
    }
  })
}
