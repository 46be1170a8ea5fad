/**
 * Test helpers for host applications: assert enqueued jobs, drain them
 * in-process on a clock the test controls, inline mode. Needs no test
 * framework (any runner, or none, on Node 20.19+).
 *
 * The store conformance suite moved to `@jobtrack/core/conformance` (since
 * 0.2.0), which needs vitest.
 *
 * @example
 * ```ts
 * import { TestJobs } from "@jobtrack/core/testing"
 * ```
 *
 * @since 0.2.0
 */
export * as TestJobs from "./testing/TestJobs.js"
