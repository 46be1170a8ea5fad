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

const { app, jobs } = makeApp({ store, leaseSeconds: Number(process.env.LEASE_SECONDS ?? 30) })
await jobs.start()
const server = app.listen(port, "127.0.0.1", () => {
  logEvent("app.listening", {
    url: `http://127.0.0.1:${port}/`,
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
  await jobs.close() // running extractions are handed back (their processes killed) and resume on the next start
  logEvent("app.stopped")
  process.exit(0)
}
process.on("SIGTERM", () => void stop("SIGTERM"))
process.on("SIGINT", () => void stop("SIGINT"))
