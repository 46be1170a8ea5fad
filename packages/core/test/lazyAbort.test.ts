/**
 * An attempt's abort signal is made when first read (internal/runner/lazyAbort.ts):
 * read before or after the abort, it behaves as an AbortController's signal.
 */
import { assert, describe, it } from "vitest"
import { LazyAbort } from "../src/internal/runner/lazyAbort.js"

describe("LazyAbort", () => {
  it("a signal read before the abort hears it, with its reason", () => {
    const abort = new LazyAbort()
    const heard: Array<string> = []
    abort.signal.addEventListener("abort", () => heard.push((abort.signal.reason as Error).name))
    abort.abort(new DOMException("stopped", "AbortError"))
    abort.abort(new DOMException("late", "TimeoutError"))
    assert.deepStrictEqual(heard, ["AbortError"])
    assert.isTrue(abort.isAborted)
  })

  it("a signal first read after the abort is already aborted, with the first reason", () => {
    const abort = new LazyAbort()
    assert.isFalse(abort.isAborted)
    abort.abort(new DOMException("timed out", "TimeoutError"))
    abort.abort(new DOMException("stopped", "AbortError"))
    assert.isTrue(abort.signal.aborted)
    assert.strictEqual((abort.signal.reason as Error).name, "TimeoutError")
  })
})
