/**
 * Start the newsletter app: on embedded PostgreSQL (PGlite, data in ./data)
 * or, when DATABASE_URL is set, on that server. PORT defaults to 3000.
 */
import { fileURLToPath } from "node:url"
import { layerPglite, layerPostgres } from "@jobtrack/adapter-kysely"
import { makeApp } from "./app.ts"
import { logEvent } from "./log.ts"

const port = Number(process.env.PORT ?? 3000)
const dataDir = process.env.DATA_DIR ?? fileURLToPath(new URL("../data", import.meta.url))
const store = process.env.DATABASE_URL
  ? layerPostgres({ connectionString: process.env.DATABASE_URL, schema: process.env.JOBTRACK_SCHEMA ?? "newsletters" })
  : layerPglite({ dataDir })

const { app, close, jobs, warm } = makeApp({
  store,
  leaseSeconds: Number(process.env.LEASE_SECONDS ?? 30),
  refetchOwner: process.env.NEWSLETTER_REFETCH_OWNER || undefined
})
await jobs.start()
const warming = performance.now()
await warm()
const server = app.listen(port, "127.0.0.1", async () => {
  // one request through the whole stack (router, auth, body parser, validation); it is refused, nothing is stored
  await fetch(`http://127.0.0.1:${port}/api/newsletters/extract`, {
    method: "POST",
    headers: { authorization: "Bearer jobtrack-warm-up", "content-type": "application/json" },
    body: "{}"
  }).then((r) => r.arrayBuffer(), () => undefined)
  logEvent("app.warmed", { ms: Math.round(performance.now() - warming) })
  logEvent("app.listening", {
    url: `http://127.0.0.1:${port}/`,
    console: `http://127.0.0.1:${port}/admin/jobs/`,
    store: process.env.DATABASE_URL ? "postgresql" : `pglite:${dataDir}`,
    pid: process.pid
  })
})

let stopping = false
const stop = async (signal: string) => {
  if (stopping) return
  stopping = true
  logEvent("app.stopping", { signal })
  server.closeAllConnections()
  server.close()
  await close() // the console's runner, then the jobs: running extractions are handed back (their processes killed) and resume on the next start
  logEvent("app.stopped")
  process.exit(0)
}
process.on("SIGTERM", () => void stop("SIGTERM"))
process.on("SIGINT", () => void stop("SIGINT"))
