/**
 * A hot statement whose result columns are fixed, read by position: sent to
 * `pg` as its own submittable (the interface pg-cursor uses) that asks for no
 * row description, and turns each row's fields straight into the value the
 * store returns (issue 13, item 3).
 *
 * pg's `Query` sends `Describe` with every statement, so the server answers
 * each claim with a RowDescription of its columns, pg builds a field object
 * per column from it, then a row object keyed by those names per row, and the
 * store maps that row into its record. For a statement whose columns the
 * store wrote itself (the claim's, `complete_many`'s) the description says
 * nothing new: the columns and their types are known here (a
 * {@link Columns}), each field is parsed by the pool's own parser for its
 * type (`types.getTypeParser(oid, "text")`: the same values as through pg's
 * `Query`), and the row becomes its value in one step.
 *
 * The statement is named as `Prepared.ts` names it (parsed once per
 * connection) and recovers from a lost or stale name as it does. The wire
 * protocol is the same as pg's without `Describe`: Parse (the first time on a
 * connection), Bind, Execute, Sync, in one write.
 *
 * The column types are the migrations' (`positional.test.ts` checks them
 * against the server's description of each statement): a statement that
 * starts returning another type needs its {@link Columns} changed with it.
 *
 * @internal
 */
import type pg from "pg"
import { withName } from "../Prepared.js"

/** A statement's result columns: their type OIDs in order (text format). */
export interface Columns {
  readonly oids: ReadonlyArray<number>
}

/** The type parsers of a pool (its `types` option, else pg's). */
export type TypeParsers = Pick<pg.CustomTypesConfig, "getTypeParser">

/** A row's fields, parsed in place by type: the value the store returns. */
export type Build<A> = (values: Array<unknown>) => A

/** What pg's `Connection` offers a submittable (its pg-cursor interface). */
interface Connection {
  readonly parsedStatements: Record<string, string | undefined>
  /** pg 8.23 on (statements sent, not yet confirmed); older pg records a name in `parsedStatements` once parsed. */
  readonly submittedNamedStatements?: Record<string, string | undefined>
  readonly stream: { cork?: () => void; uncork?: () => void }
  parse(query: { text: string; name: string; types: Array<number> }): void
  bind(config: {
    portal: string
    statement: string
    values: ReadonlyArray<unknown>
    binary: boolean
    valueMapper: (value: unknown, index: number) => unknown
  }): void
  execute(config: { portal: string; rows: number }): void
  sync(): void
  close(config: { type: string; name: string }): void
  sendCopyFail(message: string): void
}

type Parser = (text: string) => unknown

/** The parsers of each Columns per pool types, made once. */
const parsersOf = new WeakMap<TypeParsers, WeakMap<Columns, ReadonlyArray<Parser>>>()

const parsers = (types: TypeParsers, columns: Columns): ReadonlyArray<Parser> => {
  let byColumns = parsersOf.get(types)
  if (byColumns === undefined) parsersOf.set(types, byColumns = new WeakMap())
  let list = byColumns.get(columns)
  if (list === undefined) {
    list = columns.oids.map((oid) => types.getTypeParser(oid, "text") as Parser)
    byColumns.set(columns, list)
  }
  return list
}

/** One execution: a pg submittable. */
class Submittable<A> {
  readonly rows: Array<A> = []
  failure: unknown = undefined
  callback: (error: unknown, rows?: Array<A>) => void
  constructor(
    /** Read by pg's client at ParseComplete and at an error: the name parsed, or undefined (unnamed). */
    readonly name: string | undefined,
    readonly text: string,
    readonly values: ReadonlyArray<unknown>,
    readonly parsers: ReadonlyArray<Parser>,
    readonly build: Build<A>,
    readonly valueMapper: (value: unknown, index: number) => unknown,
    callback: (error: unknown, rows?: Array<A>) => void
  ) {
    this.callback = callback
  }

  submit(connection: Connection): null {
    const name = this.name ?? ""
    connection.stream.cork?.()
    try {
      const submitted = connection.submittedNamedStatements
      if (name === "" || (connection.parsedStatements[name] === undefined && submitted?.[name] === undefined)) {
        connection.parse({ text: this.text, name, types: [] })
        if (name !== "" && submitted !== undefined) submitted[name] = this.text
      }
      try {
        connection.bind({ portal: "", statement: name, values: this.values, binary: false, valueMapper: this.valueMapper })
      } catch (error) {
        // as pg's Query: a value that cannot be sent closes the parse and fails the statement
        connection.close({ type: "S", name })
        connection.sync()
        this.handleError(error)
        return null
      }
      connection.execute({ portal: "", rows: 0 })
      connection.sync()
    } finally {
      connection.stream.uncork?.()
    }
    return null
  }

  handleDataRow(msg: { fields: Array<unknown> }): void {
    if (this.failure !== undefined) return
    try {
      const values = msg.fields
      const parse = this.parsers
      for (let i = 0; i < values.length; i++) {
        const v = values[i]
        if (v !== null) values[i] = parse[i]!(v as string)
      }
      this.rows.push(this.build(values))
    } catch (error) {
      this.failure = error
    }
  }

  handleError(error: unknown): void {
    this.failure = undefined
    this.callback(error)
  }

  handleReadyForQuery(): void {
    if (this.failure !== undefined) return this.callback(this.failure)
    this.callback(null, this.rows)
  }

  // never asked for (no Describe), or nothing to do for a single statement without a row limit
  handleRowDescription(): void {}
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(connection: Connection): void {
    connection.sendCopyFail("No source stream defined")
  }
  handleCopyData(): void {}
}

/**
 * Send the marked statement `text` with `values` on `client` (a connection of
 * a pool with `types`); each row's fields parsed by `columns`' types and
 * made a value by `build`.
 */
export const send = <A>(
  client: pg.ClientBase,
  types: TypeParsers,
  valueMapper: (value: unknown, index: number) => unknown,
  text: string,
  values: ReadonlyArray<unknown>,
  columns: Columns,
  build: Build<A>
): Promise<Array<A>> => {
  const list = parsers(types, columns)
  return withName(client, text, (name) =>
    new Promise<Array<A>>((resolve, reject) => {
      const submittable = new Submittable(name, text, values, list, build, valueMapper, (error, rows) =>
        error ? reject(error) : resolve(rows!))
      ;(client as unknown as { query: (s: unknown) => unknown }).query(submittable)
    }))
}
