import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@jobtrack\/core\/testing$/, replacement: src("./packages/core/src/testing.ts") },
      { find: /^@jobtrack\/core\/conformance$/, replacement: src("./packages/core/src/conformance.ts") },
      { find: /^@jobtrack\/core$/, replacement: src("./packages/core/src/index.ts") },
      { find: /^@jobtrack\/adapter-koa$/, replacement: src("./packages/adapter-koa/src/index.ts") },
      { find: /^@jobtrack\/adapter-kysely$/, replacement: src("./packages/adapter-kysely/src/index.ts") }
    ]
  },
  test: {
    reporters: ["default", "./scripts/summary-reporter.ts"],
    // tests that need a PostgreSQL server (DATABASE_URL); the summary says how many were skipped
    tags: [{ name: "postgres", description: "needs PostgreSQL at DATABASE_URL (never skipped under CI)" }],
    include: ["packages/*/test/**/*.test.ts", "examples/*/test/**/*.test.ts", "packaging/test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
