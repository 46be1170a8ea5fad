/**
 * Write sql/<migration>.up.sql and .down.sql from the migrations (schema "jobtrack").
 * Run: `pnpm --filter @jobtrack/adapter-kysely sql` (after a build).
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { sqlMigrations } from "../dist/sqlFiles.js"

const dir = fileURLToPath(new URL("../sql/", import.meta.url))
mkdirSync(dir, { recursive: true })
for (const f of readdirSync(dir)) if (f.endsWith(".sql")) rmSync(dir + f)
for (const m of await sqlMigrations("jobtrack")) {
  writeFileSync(`${dir}${m.name}.up.sql`, m.up)
  writeFileSync(`${dir}${m.name}.down.sql`, m.down)
}
console.log(`wrote ${dir}`)
