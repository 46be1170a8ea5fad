import { afterAll, afterEach, assert, beforeAll, describe, it, vi } from "vitest"
import { InvalidInput } from "@jobtrack/core"
import { call, startApp, steps } from "./server.js"
import type { App } from "./server.js"

/** What `expose[].options` was called with, in order. */
const seen: Array<unknown> = []

describe("expose[].options gets the validated payload", () => {
  let app: App
  let throwing: App
  let refusing: App
  beforeAll(async () => {
    app = await startApp("/api/jobs", {
      expose: [{
        definition: steps,
        options: (p) => {
          seen.push(p)
          return { key: (p as { label: string }).label.toLowerCase() }
        }
      }]
    })
    throwing = await startApp("/api/jobs", {
      expose: [{
        definition: steps,
        options: () => {
          throw new Error("secret table jobs_2026 is gone")
        }
      }]
    })
    refusing = await startApp("/api/jobs", {
      expose: [{
        definition: steps,
        options: () => {
          throw new InvalidInput({ type: "steps", issues: [{ path: ["payload", "label"], message: "is taken" }] })
        }
      }]
    })
  })
  afterAll(async () => {
    await app.close()
    await throwing.close()
    await refusing.close()
  })
  afterEach(() => {
    seen.length = 0
    vi.restoreAllMocks()
  })

  it("a payload its schema refuses is a 400 naming every problem; options is not called and its failure never shows", async () => {
    for (const [body, paths] of [
      [null, [["payload"]]],
      [{ steps: 1, stepMs: 1, label: 5 }, [["payload", "label"]]],
      [{ steps: "x", stepMs: 1, label: 5 }, [["payload", "steps"], ["payload", "label"]]]
    ] as const) {
      const r = await call(`${app.url}/steps`, { method: "POST", owner: "ann", body: JSON.stringify(body) })
      assert.strictEqual(r.status, 400, JSON.stringify(body))
      assert.strictEqual(r.body.error.code, "invalid_input")
      assert.deepStrictEqual(r.body.error.details.issues.map((i: { path: Array<string> }) => i.path), paths)
      assert.notMatch(r.body.error.message, /Cannot read|is not a function/)
    }
    assert.deepStrictEqual(seen, [])
  })

  it("options is called with the decoded payload (here without the key the schema does not know)", async () => {
    const r = await call(`${app.url}/steps`, { method: "POST", owner: "ann", body: { steps: 1, stepMs: 1, label: "MiXed", extra: 1 } })
    assert.strictEqual(r.status, 202)
    assert.strictEqual(r.body.job.key, "mixed")
    assert.deepStrictEqual(seen, [{ steps: 1, stepMs: 1, label: "MiXed" }])
  })

  it("options that throw on a valid payload: the host's bug, a 500 without its text, logged", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {})
    const r = await call(`${throwing.url}/steps`, { method: "POST", owner: "ann", body: { steps: 1, stepMs: 1 } })
    assert.strictEqual(r.status, 500)
    assert.deepStrictEqual(r.body, { error: { code: "internal", message: "internal error" } })
    assert.include(logged.mock.calls.flat().map(String).join("\n"), "secret table jobs_2026 is gone")
    // nothing was enqueued
    assert.strictEqual((await call(`${throwing.url}/`, { owner: "ann" })).body.items.length, 0)
  })
  it("options that throw InvalidInput refuse the request: a 400 with its issues, nothing enqueued", async () => {
    const r = await call(`${refusing.url}/steps`, { method: "POST", owner: "ann", body: { steps: 1, stepMs: 1, label: "x" } })
    assert.strictEqual(r.status, 400)
    assert.strictEqual(r.body.error.code, "invalid_input")
    assert.deepStrictEqual(r.body.error.details.issues, [{ path: ["payload", "label"], message: "is taken" }])
    assert.strictEqual((await call(`${refusing.url}/`, { owner: "ann" })).body.items.length, 0)
  })
})
