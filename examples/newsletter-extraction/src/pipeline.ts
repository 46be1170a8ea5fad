/**
 * The extraction pipeline, run as its own process (as the original app ran a
 * Python script): connect → fetch messages → parse out links → extract links
 * (resolve redirects, filter) → save.
 * The mailbox and the web are local fixtures; the time each step takes scales
 * with `hours_back` (a few seconds for 1 hour, about a minute for a week).
 *
 *   node pipeline.ts '{"hours_back": 24, "max_results": 50, "senders": []}'
 *   node pipeline.ts --stage fetch < input.json
 *
 * Its stages are connect, fetch, parse, extract-links and save. Given a
 * request, it runs them all; with `--stage <name>`, it runs that stage alone on
 * the JSON read from stdin (`{ request, ...what earlier stages returned }`), so
 * that the job can run each stage as a durable step. Reports
 * `PROGRESS <percent> <message>` lines on stdout and ends with one
 * `RESULT <json>` line (the stage's output, or the newsletters). A sender
 * whose name starts with "fail" (fail@example.com) makes the connect stage
 * fail. MAILBOX_FILE replaces the mailbox fixture.
 */
import { readFileSync } from "node:fs"
import { pathToFileURL } from "node:url"

interface Link {
  readonly text: string
  readonly href: string
}
interface Message {
  readonly id: string
  readonly from: string
  readonly subject: string
  readonly hours_ago: number
  readonly links: ReadonlyArray<Link>
}

const stageArg = process.argv[2] === "--stage" ? process.argv[3] : undefined
const input = JSON.parse(stageArg ? readFileSync(0, "utf8") : JSON.stringify({ request: JSON.parse(process.argv[2] ?? "{}") })) as {
  request: { hours_back: number; max_results: number; senders?: Array<string> }
  messages?: Array<Message>
  links?: Array<{ message: string; text: string; href: string }>
  kept?: Array<{ message: string; text: string; url: string }>
}
const request = input.request
const fixtures = new URL("../fixtures/", import.meta.url)
const mailboxFile = process.env.MAILBOX_FILE ? pathToFileURL(process.env.MAILBOX_FILE) : new URL("mailbox.json", fixtures)

const scale = Number(process.env.PIPELINE_TIME_SCALE ?? 1)
const totalMs = (2_000 + request.hours_back * 350) * scale
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const progress = (percent: number, message: string) => process.stdout.write(`PROGRESS ${percent.toFixed(1)} ${message}\n`)

/** Spend `share` of the total time on a step, reporting from `from` to `to` percent. */
const step = async (share: number, from: number, to: number, message: (i: number, n: number) => string, n: number) => {
  const ticks = Math.max(1, Math.min(n, 20))
  for (let t = 1; t <= ticks; t++) {
    await sleep((totalMs * share) / ticks)
    progress(from + ((to - from) * t) / ticks, message(Math.round((n * t) / ticks), n))
  }
}

const stages = {
  connect: async () => {
    progress(1, request.senders?.length ? `Connecting to the mailbox for ${request.senders.join(", ")}…` : "Connecting to the mailbox…")
    const failing = request.senders?.find((s) => s.startsWith("fail"))
    if (failing) {
      await sleep(300 * scale)
      process.stderr.write(`mailbox authentication failed for ${failing}\n`)
      process.exit(2)
    }
    return { connected: true }
  },
  fetch: async () => {
    const mailbox = JSON.parse(readFileSync(mailboxFile, "utf8")) as { messages: Array<Message> }
    const messages = mailbox.messages
      .filter((m) => m.hours_ago <= request.hours_back)
      .filter((m) => !request.senders?.length || request.senders.includes(m.from))
      .slice(0, request.max_results)
    await step(0.25, 1, 25, (i, n) => `Fetching messages… ${i} of ${n}`, messages.length)
    return { messages }
  },
  parse: async () => {
    const links = (input.messages ?? []).flatMap((m) => m.links.map((l) => ({ message: m.id, text: l.text, href: l.href })))
    await step(0.2, 25, 50, (i, n) => `Extracting links… ${i} of ${n}`, links.length)
    return { links }
  },
  "extract-links": async () => {
    const redirects = JSON.parse(readFileSync(new URL("redirects.json", fixtures), "utf8")) as Record<string, string>
    const resolved = (input.links ?? []).map((l) => ({ message: l.message, text: l.text, url: redirects[l.href] ?? l.href }))
    await step(0.4, 50, 85, (i, n) => `Resolving redirect links… ${i} of ${n}`, resolved.length)
    const seen = new Set<string>()
    const kept = resolved.filter((l) => !/unsubscribe/i.test(l.url) && !seen.has(l.url) && seen.add(l.url))
    await step(0.15, 85, 99, (i, n) => `Filtering… ${i} of ${n}`, kept.length)
    return { kept }
  },
  save: async () => ({
    newsletters: (input.messages ?? []).map((m) => ({
      id: m.id,
      sender: m.from,
      subject: m.subject,
      received_hours_ago: Math.round(m.hours_ago * 10) / 10,
      links: (input.kept ?? []).filter((l) => l.message === m.id).map((l) => ({ text: l.text, url: l.url }))
    }))
  })
}

if (stageArg) {
  const run = stages[stageArg as keyof typeof stages]
  if (!run) {
    process.stderr.write(`unknown stage ${stageArg}\n`)
    process.exit(64)
  }
  process.stdout.write(`RESULT ${JSON.stringify(await run())}\n`)
} else {
  await stages.connect()
  Object.assign(input, await stages.fetch())
  Object.assign(input, await stages.parse())
  Object.assign(input, await stages["extract-links"]())
  process.stdout.write(`RESULT ${JSON.stringify(await stages.save())}\n`)
}
