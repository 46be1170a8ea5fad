/**
 * Prints one closing line that any CI can read: "vitest: N passed, N failed, N skipped".
 * Before it, when PostgreSQL tests (tag `postgres`) were skipped, a line saying
 * how many and why. `.ci/run` fails when the closing line reports skipped tests.
 */
import type { Reporter, TestModule } from "vitest/node"

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<unknown>) {
    let passed = 0
    let failed = 0
    let skipped = 0
    let postgresSkipped = 0
    for (const mod of modules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state
        if (state === "passed") passed++
        else if (state === "failed") failed++
        else {
          skipped++
          if (test.tags.includes("postgres")) postgresSkipped++
        }
      }
      if (mod.state() === "failed" && [...mod.children.allTests()].length === 0) failed++
      // a failed beforeAll/afterAll leaves its tests skipped: count the hook's failure
      for (const suite of mod.children.allSuites()) failed += suite.errors().length
    }
    failed += errors.length
    if (postgresSkipped > 0) {
      process.stdout.write(
        `\n${postgresSkipped} PostgreSQL tests skipped: DATABASE_URL is not set. ` +
          `Run them with DATABASE_URL=postgres://user@host:5432/db (under CI they always run).\n`
      )
    }
    process.stdout.write(`\nvitest: ${passed} passed, ${failed} failed, ${skipped} skipped\n`)
  }
}
