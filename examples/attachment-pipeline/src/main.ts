/**
 * Start the attachment app: on embedded PostgreSQL (PGlite, data in ./data)
 * or, when DATABASE_URL is set, on that server. PORT defaults to 3001.
 *
 * Demo knobs: RETRY_SCALE (0.01 turns 30 s / 2 min / 8 min into 0.3 s / 1.2 s / 4.8 s),
 * FAIL_RATE (fraction of attempts that fail transiently, default 0.2), EXTRACT_STEP_MS,
 * SEED_LEGACY_ATTACHMENTS (attachments of `ops` saved "before jobtrack", for the backfill),
 * UPLOAD_MAX_BYTES (largest accepted upload, default 10 MiB), ADMIN_USERS (default `ops`).
 */
import { fileURLToPath } from "node:url"
import { makeApp, logEvent } from "./app.ts"
import { openDatabase } from "./db.ts"

const port = Number(process.env.PORT ?? 3001)
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url))
const dataDir = process.env.DATA_DIR ?? here("../data")
const { close, db, store } = await openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir })

const legacy = Number(process.env.SEED_LEGACY_ATTACHMENTS ?? 0)
if (legacy > 0 && !(await db.selectFrom("records").select("id").where("owner", "=", "ops").where("id", "=", "legacy").executeTakeFirst())) {
  await db.insertInto("records").values({ owner: "ops", id: "legacy", name: "Saved before jobtrack" }).execute()
  await db.insertInto("attachments")
    .values(Array.from({ length: legacy }, (_, i) => ({ owner: "ops", record_id: "legacy", file_url: `s3://legacy/scan-${i}.pdf`, filename: `scan-${i}.pdf`, path: null })))
    .execute()
}

const { app, jobs } = makeApp({
  db,
  store,
  uploads: process.env.UPLOADS_DIR ?? here("../uploads"),
  maxUploadBytes: Number(process.env.UPLOAD_MAX_BYTES ?? 10 * 1024 * 1024),
  leaseSeconds: Number(process.env.LEASE_SECONDS ?? 30)
})
await jobs.start()
const server = app.listen(port, "127.0.0.1", () => {
  logEvent("app.listening", { url: `http://127.0.0.1:${port}/`, store: process.env.DATABASE_URL ? "postgresql" : `pglite:${dataDir}`, pid: process.pid })
})

let stopping = false
const stop = async (signal: string) => {
  if (stopping) return
  stopping = true
  logEvent("app.stopping", { signal })
  server.closeAllConnections()
  server.close()
  await jobs.close()
  await close()
  logEvent("app.stopped")
  process.exit(0)
}
process.on("SIGTERM", () => void stop("SIGTERM"))
process.on("SIGINT", () => void stop("SIGINT"))
