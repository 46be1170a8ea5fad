/**
 * The Promise facade after `close()`: every call rejects with the tagged
 * `JobtrackClosed` (a `start()` that `close()` cut short too); `stop()` and
 * `close()` again resolve. Before, calls rejected with untyped errors
 * ("ManagedRuntime disposed", and "All fibers interrupted without error" for
 * the cut-short start), which a host could not tell from a failure.
 */
import { assert, describe, it } from "vitest"
import { Schema } from "effect"
import { JobDefinition, Jobtrack, MemoryStore } from "@jobtrack/core"

const def = JobDefinition.make({ type: "t", payload: Schema.Struct({}), run: async () => null })

const tagOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p
    return "resolved"
  } catch (e) {
    return typeof e === "object" && e !== null && "_tag" in e ? String(e._tag) : `untagged: ${String(e)}`
  }
}

describe("Jobtrack facade after close()", () => {
  it("rejects every call with JobtrackClosed; stop() and close() again resolve", async () => {
    const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [def] })
    await jobs.start()
    const { job } = await jobs.enqueue(def, {})
    await jobs.close()
    assert.strictEqual(await tagOf(jobs.enqueue(def, {})), "JobtrackClosed")
    assert.strictEqual(await tagOf(jobs.get(job.id)), "JobtrackClosed")
    assert.strictEqual(await tagOf(jobs.list()), "JobtrackClosed")
    assert.strictEqual(await tagOf(jobs.start()), "JobtrackClosed")
    assert.strictEqual(await tagOf(jobs.tracker()), "JobtrackClosed")
    assert.strictEqual(await tagOf(jobs.schedules.list()), "JobtrackClosed")
    const iterate = async () => {
      for await (const _ of jobs.watch(job.id)) break
    }
    assert.strictEqual(await tagOf(iterate()), "JobtrackClosed")
    assert.strictEqual(await tagOf(jobs.stop()), "resolved")
    assert.strictEqual(await tagOf(jobs.close()), "resolved")
  })

  it("a start() that close() cuts short rejects with JobtrackClosed", async () => {
    const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [def] })
    const starting = jobs.start()
    const closing = jobs.close()
    const tag = await tagOf(starting)
    await closing
    // it either finished before the close or was cut short by it: never an untyped error
    assert.include(["resolved", "JobtrackClosed"], tag)
    assert.strictEqual(await tagOf(jobs.start()), "JobtrackClosed")
  })

  it("a close() called while a stop() is in flight waits for it: the running job finishes and stop() resolves", async () => {
    // before: close() found no runner scope left and disposed the runtime under the stop, which
    // rejected with the untyped "All fibers interrupted without error"
    let finish!: () => void
    let started!: () => void
    const running = new Promise<void>((resolve) => (started = resolve))
    const slow = JobDefinition.make({
      type: "slow",
      payload: Schema.Struct({}),
      run: () => {
        started()
        return new Promise((resolve) => (finish = () => resolve(null)))
      }
    })
    const jobs = Jobtrack.make({ store: MemoryStore.layer, definitions: [slow] })
    await jobs.start()
    const { job } = await jobs.enqueue(slow, {})
    await running
    const stopping = tagOf(jobs.stop())
    const closing = tagOf(jobs.close())
    finish()
    assert.strictEqual(await stopping, "resolved")
    assert.strictEqual(await closing, "resolved")
    assert.strictEqual(await tagOf(jobs.get(job.id)), "JobtrackClosed")
  })
})
