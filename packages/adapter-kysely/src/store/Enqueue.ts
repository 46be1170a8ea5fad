/**
 * Enqueue: one multi-row INSERT per batch, key dedupe by the unique partial
 * index (rule 2: per type, owner and key), joining the host's Kysely
 * transaction when one is provided (rule 1). A batch without keys is a plain
 * INSERT: nothing can conflict, so it skips ON CONFLICT's speculative
 * insertion and returns no rows (~10 % of the statement's time).
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { Job, StoreError, Transaction } from "@jobtrack/core"
import type { NewJob, StoreEnqueued as Enqueued } from "@jobtrack/core"
import { sql } from "kysely"
import type { Kysely } from "kysely"
import { toRecord } from "../Rows.js"
import type { JobRow } from "../Rows.js"
import { iso, now } from "./Context.js"
import type { StoreContext } from "./Context.js"

/** Whether a value is a Kysely transaction (or any Kysely instance). */
const isKysely = (u: unknown): u is Kysely<unknown> =>
  typeof u === "object" && u !== null && "selectFrom" in u && typeof (u as { executeQuery?: unknown }).executeQuery === "function"

/**
 * Insert a batch (results in input order): new jobs, or the live job of the
 * same (type, owner, key).
 *
 * @since 0.2.0
 * @category writes
 */
export const insert = (ctx: StoreContext) =>
(inputs: ReadonlyArray<NewJob>): Effect.Effect<ReadonlyArray<Enqueued>, StoreError> =>
  Effect.gen(function*() {
    if (inputs.length === 0) return []
    const { jobs, run } = ctx
    const trx = yield* Effect.service(Transaction)
    if (trx !== undefined && !isKysely(trx)) {
      return yield* new StoreError({ reason: "the transaction is not a Kysely transaction", retryable: false })
    }
    const executor = trx ?? ctx.db
    const at = iso(yield* now)
    const batch = (list: ReadonlyArray<NewJob>) =>
      JSON.stringify(list.map((j) => ({
        id: j.id,
        type: j.type,
        queue: j.queue,
        payload: j.payload,
        max_attempts: j.maxAttempts,
        priority: j.priority,
        run_at: j.runAt.toISOString(),
        owner: j.owner,
        key: j.key,
        group_key: j.groupKey,
        group_limit: j.groupLimit,
        traceparent: j.traceparent ?? null
      })))
    const columns = sql`(id, type, queue, payload, max_attempts, priority, run_at, owner, key,
      group_key, group_limit, traceparent, status, created_at, updated_at)`
    const rows = (list: ReadonlyArray<NewJob>) =>
      sql`select x.id, x.type, x.queue, x.payload, x.max_attempts, x.priority, x.run_at, x.owner, x.key,
          x.group_key, x.group_limit, x.traceparent, 'pending', ${at}::timestamptz, ${at}::timestamptz
        from jsonb_to_recordset(${batch(list)}::jsonb)
          as x(id uuid, type text, queue text, payload jsonb, max_attempts integer, priority integer,
            run_at timestamptz, owner text, key text, group_key text, group_limit integer, traceparent text)`
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
