/**
 * What the tests need to know about where they run, in one place.
 *
 * - `underCI()`: CI is set to anything but "", "0" or "false" (`CI=true`, `CI=1`, …).
 * - `postgresUrl()`: the PostgreSQL the tests use (`DATABASE_URL`). Without it,
 *   tests tagged `postgres` are skipped (the summary reporter says how many and
 *   why) — except under CI, where a missing URL fails the run at once.
 *
 * A PostgreSQL suite: `describe.skipIf(!url)("…", { tags: ["postgres"] }, () => …)`.
 */
export const underCI = (env: NodeJS.ProcessEnv = process.env): boolean => {
  const ci = (env.CI ?? "").trim().toLowerCase()
  return ci !== "" && ci !== "0" && ci !== "false"
}

export const postgresUrl = (): string | undefined => {
  const url = process.env.DATABASE_URL
  if (!url && underCI()) throw new Error("DATABASE_URL must be set under CI: the PostgreSQL tests must run, not skip")
  return url || undefined
}

/** The vitest tag of tests that need PostgreSQL. */
export const postgresTag = "postgres"
