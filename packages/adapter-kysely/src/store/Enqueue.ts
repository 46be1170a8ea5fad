/**
 * Enqueue: one multi-row INSERT per batch, key dedupe by the unique partial
 * index (rule 2: per type, owner and key), joining the host's Kysely
 * transaction when one is provided (rule 1). A batch without keys is a plain
 * INSERT: nothing can conflict, so it skips ON CONFLICT's speculative
 * insertion and returns no rows (~10 % of the statement's time). The rows
 * are sent as the ids, the payloads as one JSON array, and only the columns
 * whose values differ within the batch as arrays: a column with one value
 * for the whole batch (a batch of one definition: type, queue, attempts,
 * priority, run time) is one parameter, so the server parses a few bytes a
 * job instead of a JSON record of twelve fields (measured in
 * docs/benchmarks.md, "Write cost per job (session 4)").
 *
 * A batch without keys whose every column but the id and the payload has
 * one value (every one-job enqueue, and a batch of one definition with one
 * run time) is the same statement every time: its text is written once per
 * store and sent as a named prepared statement (`Context.send`,
 * `Prepared.ts`), so the server does not parse, analyse and plan it again at
 * each enqueue, and no Kysely template is built and compiled for it. The
 * enqueue is on the enqueue→start path: about a quarter of its database
 * backend's CPU was that planning (docs/benchmarks.md, "Enqueue→start tail
 * (session 9)"). It commits as before: synchronously, before it returns.
 * Inside the host's transaction the same text goes unnamed (a pooler that
 * switches sessions would fail a named one there, aborting the host's
 * transaction: `Prepared.ts` recovers only outside one).
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { Job, StoreError, Transaction } from "@jobtrack/core"
import type { NewJob, StoreEnqueued as Enqueued } from "@jobtrack/core"
import { sql } from "../kyselyModule.js"
import type { Kysely, RawBuilder } from "kysely"
import { marker } from "../Prepared.js"
import { toRecord } from "../Rows.js"
import type { JobRow } from "../Rows.js"
import { iso, now, preparedText, qualified } from "./Context.js"
import type { StoreContext } from "./Context.js"

/** Whether a value is a Kysely transaction (or any Kysely instance). */
const isKysely = (u: unknown): u is Kysely<unknown> =>
  typeof u === "object" && u !== null && "selectFrom" in u && typeof (u as { executeQuery?: unknown }).executeQuery === "function"

/** A column of the insert: its SQL type, a comparable value, and the parameter sent. */
type Column = readonly [
  name: string,
  type: string,
  value: (j: NewJob) => string | number | null,
  param: (j: NewJob) => string | number | null
]

const same = <A>(f: (j: NewJob) => A) => [f, f] as const

/** Every inserted column but the id, the payload and those the statement sets. */
const varying: ReadonlyArray<Column> = [
  ["type", "text", ...same((j) => j.type)],
  ["queue", "text", ...same((j) => j.queue)],
  ["max_attempts", "integer", ...same((j) => j.maxAttempts)],
  ["priority", "integer", ...same((j) => j.priority)],
  ["run_at", "timestamptz", (j) => j.runAt.getTime(), (j) => j.runAt.toISOString()],
  ["owner", "text", ...same((j) => j.owner)],
  ["key", "text", ...same((j) => j.key)],
  ["group_key", "text", ...same((j) => j.groupKey)],
  ["group_limit", "integer", ...same((j) => j.groupLimit)],
  ["traceparent", "text", ...same((j) => j.traceparent ?? null)]
]

/** `"name"`, quoted as Kysely's `sql.ref` quotes a column. */
const quoted = (name: string): string => `"${name.replaceAll("\"", "\"\"")}"`

/**
 * The insert of a batch without keys whose varying columns all have one value:
 * ids and payloads as arrays ($1, $2), then one parameter per column, then
 * the write time. The statement {@link insert} builds for such a batch.
 */
const scalarInsertText = (schema: string): string => {
  const at = `$${varying.length + 3}::timestamptz`
  return preparedText(
    `insert into ${qualified(schema, "jobs")} (id, payload, ${varying.map(([name]) => quoted(name)).join(", ")}, status, created_at, updated_at) `
      + `select u.id, ($2::jsonb) -> (u.n::integer - 1), ${varying.map(([, type], i) => `$${i + 3}::${type}`).join(", ")}, `
      + `'pending', ${at}, ${at} from unnest($1::uuid[]) with ordinality as u(id, n)`
  )
}

/**
 * Insert a batch (results in input order): new jobs, or the live job of the
 * same (type, owner, key).
 *
 * @since 0.2.0
 * @category writes
 */
export const insert = (ctx: StoreContext) => {
  const scalarInsert = scalarInsertText(ctx.schema)
  const scalarInsertUnnamed = scalarInsert.slice(marker.length)
  return (inputs: ReadonlyArray<NewJob>): Effect.Effect<ReadonlyArray<Enqueued>, StoreError> =>
    Effect.gen(function*() {
      if (inputs.length === 0) return []
      const { jobs, run } = ctx
      const trx = yield* Effect.service(Transaction)
      if (trx !== undefined && !isKysely(trx)) {
        return yield* new StoreError({ reason: "the transaction is not a Kysely transaction", retryable: false })
      }
      const executor = trx ?? ctx.db
      const at = iso(yield* now)
      if (inputs.every((j) => j.key === null)) {
        const first = inputs[0]!
        if (varying.every(([, , value]) => inputs.every((j) => value(j) === value(first)))) {
          // the same text for every such batch: prepared, not compiled (see the module's comment)
          yield* ctx.send("enqueue", trx === undefined ? scalarInsert : scalarInsertUnnamed, [
            inputs.map((j) => j.id),
            JSON.stringify(inputs.map((j) => j.payload)),
            ...varying.map(([, , , param]) => param(first)),
            at
          ], executor)
          return inputs.map((j) => ({ job: Job.fromNew(j, new Date(at)), created: true }))
        }
      }
      const columns = sql`(id, payload, ${sql.join(varying.map(([name]) => sql.ref(name)))}, status, created_at, updated_at)`
      const rows = (list: ReadonlyArray<NewJob>) => {
        // a column whose value is the same for every job (a batch of one definition: type,
        // queue, attempts, priority, run time…) is one parameter; the others are arrays,
        // unnested side by side with the ids; the payloads are one JSON array, read by place
        const scalar: Array<RawBuilder<unknown>> = []
        const arrays: Array<RawBuilder<unknown>> = [sql`${list.map((j) => j.id)}::uuid[]`]
        const names: Array<RawBuilder<unknown>> = [sql`id`]
        for (const [name, type, value, param] of varying) {
          const first = value(list[0]!)
          if (list.every((j) => value(j) === first)) {
            scalar.push(sql`${param(list[0]!)}::${sql.raw(type)}`)
          } else {
            arrays.push(sql`${list.map(param)}::${sql.raw(type)}[]`)
            names.push(sql.ref(name))
            scalar.push(sql`u.${sql.ref(name)}`)
          }
        }
        return sql`select u.id, (${JSON.stringify(list.map((j) => j.payload))}::jsonb) -> (u.n::integer - 1),
            ${sql.join(scalar)}, 'pending', ${at}::timestamptz, ${at}::timestamptz
          from unnest(${sql.join(arrays)}) with ordinality as u(${sql.join(names)}, n)`
      }
      if (inputs.every((j) => j.key === null)) {
        // no key, no dedupe: a plain insert (no speculative insertion into the key index, no rows back);
        // every job is new, or the statement fails as a whole
        yield* run("enqueue", sql`insert into ${jobs} ${columns} ${rows(inputs)}`, executor)
        return inputs.map((j) => ({ job: Job.fromNew(j, new Date(at)), created: true }))
      }
      const out = new Map<string, Enqueued>()
      let pending = inputs
      for (let round = 0; round < 5 && pending.length > 0; round++) {
        const inserted = yield* run(
          "enqueue",
          sql<{ id: string }>`
            insert into ${jobs} ${columns} ${rows(pending)}
            on conflict (type, owner, key) where key is not null and status in ('pending', 'processing', 'retrying')
            do nothing
            returning id`,
          executor
        )
        // what was inserted is known: build the records here instead of shipping rows back
        const byId = new Map(pending.map((j) => [j.id, j]))
        for (const { id } of inserted) out.set(id, { job: Job.fromNew(byId.get(id)!, new Date(at)), created: true })
        const conflicted = pending.filter((j) => !out.has(j.id))
        if (conflicted.length === 0) break
        // the live job of the same (type, owner, key): key dedupe is per owner (rule 2)
        const existing = yield* run(
          "enqueue",
          sql<JobRow>`
            select j.* from ${jobs} j
            join unnest(${conflicted.map((j) => j.type)}::text[], ${conflicted.map((j) => j.owner)}::text[],
              ${conflicted.map((j) => j.key!)}::text[]) as u(type, owner, key)
              on j.type = u.type and j.key = u.key and j.owner is not distinct from u.owner
            where j.status in ('pending', 'processing', 'retrying') and j.key is not null`,
          executor
        )
        const identity = (j: { type: string; owner: string | null; key: string | null }) =>
          JSON.stringify([j.type, j.owner, j.key])
        const byKey = new Map(existing.map((row) => {
          const job = toRecord(row)
          return [identity(job), job]
        }))
        for (const j of conflicted) {
          const job = byKey.get(identity(j))
          if (job) out.set(j.id, { job, created: false })
        }
        // a conflicting job that became terminal meanwhile: insert those again
        pending = conflicted.filter((j) => !out.has(j.id))
      }
      return inputs.map((j) => out.get(j.id)!)
    })
}
