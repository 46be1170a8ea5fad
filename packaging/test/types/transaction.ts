/**
 * Type tests (checked by tsc in packaging/test/snippets.test.ts): the
 * `transaction` option of an enqueue takes what the store can join, nothing else.
 */
import { Effect, Layer, Schema } from "effect"
import { JobDefinition, Jobtrack, MemoryStore, Tracker } from "@jobtrack/core"
import { KyselyStore, layerPostgres } from "@jobtrack/adapter-kysely"
import type { Kysely } from "kysely"
import type pg from "pg"

interface Database {
  attachments: { id: number; file_url: string }
}
interface Other {
  invoices: { id: number }
}

const ping = JobDefinition.make({
  type: "ping",
  payload: Schema.Struct({ n: Schema.Number }),
  result: Schema.Struct({ n: Schema.Number }),
  handler: ({ n }) => Effect.succeed({ n })
})

export const hostStore = async (db: Kysely<Database>, other: Kysely<Other>, client: pg.PoolClient) => {
  const jobs = Jobtrack.make({ store: KyselyStore.layer({ db }), definitions: [ping] })
  await db.transaction().execute(async (trx) => {
    await jobs.enqueue(ping, { n: 1 }, { transaction: trx })
    await jobs.enqueueMany(ping, [{ payload: { n: 2 }, options: { transaction: trx } }])
  })
  // @ts-expect-error a Kysely instance is not a transaction
  await jobs.enqueue(ping, { n: 1 }, { transaction: db })
  // @ts-expect-error a pg client is not a Kysely transaction
  await jobs.enqueue(ping, { n: 1 }, { transaction: client })
  await other.transaction().execute(async (trx) => {
    // @ts-expect-error a transaction of another database type
    await jobs.enqueue(ping, { n: 1 }, { transaction: trx })
  })
}

export const ownPool = async (db: Kysely<Database>, client: pg.PoolClient) => {
  // the store's own pool joins any Kysely transaction on the same database
  const jobs = Jobtrack.make({ store: layerPostgres({ connectionString: "postgres://h/db" }), definitions: [ping] })
  await db.transaction().execute((trx) => jobs.enqueue(ping, { n: 1 }, { transaction: trx }))
  // @ts-expect-error a Kysely instance is not a transaction
  await jobs.enqueue(ping, { n: 1 }, { transaction: db })
  // @ts-expect-error a pg client is not a Kysely transaction
  await jobs.enqueue(ping, { n: 1 }, { transaction: client })
}

export const memory = async (db: Kysely<Database>) => {
  const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [ping] })
  await jobs.enqueue(ping, { n: 1 }, { owner: "ann" })
  await db.transaction().execute(async (trx) => {
    // @ts-expect-error the memory store joins no transaction
    await jobs.enqueue(ping, { n: 1 }, { transaction: trx })
  })
}

export const effectForm = (db: Kysely<Database>) =>
  db.transaction().execute((trx) =>
    Effect.runPromise(
      Tracker.Tracker.use((t) =>
        Effect.gen(function*() {
          // the Effect tracker serves any store: it takes no transaction in its options
          // @ts-expect-error join the transaction with the store's typed helper instead
          yield* t.enqueue(ping, { n: 1 }, { transaction: trx })
          yield* t.enqueue(ping, { n: 1 }).pipe(KyselyStore.inTransaction(trx))
          // @ts-expect-error a Kysely instance is not a transaction
          yield* t.enqueue(ping, { n: 1 }).pipe(KyselyStore.inTransaction(db))
        })
      ).pipe(Effect.provide(Tracker.layer({ definitions: [ping] }).pipe(Layer.provide(KyselyStore.layer({ db })))))
    )
  )
