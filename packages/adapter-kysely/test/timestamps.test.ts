/**
 * The timestamptz parser (Timestamps.ts) reads every form PostgreSQL sends
 * into the same Date as pg's default parser, and hands the forms it does not
 * read to that parser.
 */
import { assert, describe, it } from "vitest"
import { Timestamps } from "@jobtrack/adapter-kysely"
import pg from "pg"
import { databaseUrl } from "./databases.js"

const reference = pg.types.getTypeParser(1184, "text") as (s: string) => unknown
const parse = Timestamps.timestamptz(reference)

const same = (s: string) => {
  const mine = parse(s)
  const theirs = reference(s)
  if (mine instanceof Date && theirs instanceof Date) {
    assert.strictEqual(mine.getTime(), theirs.getTime(), s)
  } else {
    assert.deepStrictEqual(mine, theirs, s)
  }
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0")

/** The text PostgreSQL sends for `ms` in a session whose offset is `offsetMin` minutes, with `fraction` digits. */
const text = (ms: number, offsetMin: number, fraction: number) => {
  const local = new Date(ms + offsetMin * 60_000)
  const abs = Math.abs(offsetMin)
  const zone = `${offsetMin < 0 ? "-" : "+"}${pad(Math.floor(abs / 60))}${abs % 60 === 0 ? "" : `:${pad(abs % 60)}`}`
  const frac = fraction === 0 ? "" : `.${(pad(local.getUTCMilliseconds(), 3) + "123").slice(0, fraction)}`
  return `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())} ${
    pad(local.getUTCHours())
  }:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}${frac}${zone}`
}

describe("Timestamps.timestamptz", () => {
  it("reads PostgreSQL's timestamptz text as pg's default parser does, for any offset and fraction", () => {
    let seed = 7
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647
    for (let k = 0; k < 2000; k++) {
      const ms = Math.floor(random() * 8e12) - 2e12 // 1906 … 2223
      const offset = [0, 60, -300, 330, 345, -570, 840, -720][k % 8]!
      same(text(ms, offset, k % 7))
    }
  })

  it("hands the forms it does not read to the fallback: BC, 5-digit and 2-digit years, seconds in the offset, infinity", () => {
    for (
      const s of [
        "0044-03-15 12:00:00+00 BC",
        "12345-01-01 00:00:00+00",
        "0050-06-01 10:20:30.5+00",
        "1900-01-01 00:00:00+00:19:32",
        "infinity",
        "-infinity",
        "2026-11-30 15:10:10.123456+00",
        "2026-11-30 15:10:10+05:30",
        "2026-11-30 15:10:10.1-03"
      ]
    ) same(s)
    assert.strictEqual((parse("2026-11-30 15:10:10.123456+00") as Date).toISOString(), "2026-11-30T15:10:10.123Z")
  })

  it.skipIf(!databaseUrl())("reads what PostgreSQL sends in sessions of several time zones", { tags: ["postgres"] }, async () => {
    const client = new pg.Client({ connectionString: databaseUrl()!, types: { getTypeParser: () => (s: string) => s } as never })
    await client.connect()
    try {
      for (const zone of ["UTC", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham", "Europe/Amsterdam"]) {
        await client.query(`set time zone '${zone}'`)
        const r = await client.query<{ t: string }>(
          `select (timestamptz '2026-11-30 15:10:10.123456+00' + n * interval '1 day 1 hour 1.001 second')::text as t
           from generate_series(-200, 200) n`
        )
        for (const row of r.rows) same(row.t)
      }
    } finally {
      await client.end()
    }
  })
})
