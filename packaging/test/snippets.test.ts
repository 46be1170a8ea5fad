import { assert, beforeAll, describe, it } from "vitest"
import { check, documents, extract } from "../src/snippets.ts"
import type { Problem, Snippet } from "../src/snippets.ts"

const fragment = "packaging/test/fixtures/fragment.md"
/** Type tests: their `@ts-expect-error` lines must be errors (an unused one is reported). */
const typeTests = ["packaging/test/types/transaction.ts"]

describe("documentation snippets are complete files that type-check", () => {
  let problems: ReadonlyArray<Problem> = []
  let counted = new Map<string, number>()
  let snippets: ReadonlyArray<Snippet> = []
  beforeAll(() => {
    const result = check([...documents(), fragment], typeTests)
    problems = result.problems
    snippets = result.snippets
    counted = new Map(documents().map((d) => [d, result.snippets.filter((s) => s.document === d).length]))
  }, 120_000)

  for (const document of documents()) {
    it(document, () => {
      const mine = problems.filter((p) => p.document === document).map((p) => `${p.where}: ${p.message}`)
      assert.deepStrictEqual(mine, [], `${counted.get(document)} snippets`)
    })
  }

  for (const file of typeTests) {
    it(`type test ${file}`, () => {
      assert.deepStrictEqual(problems.filter((p) => p.document === file).map((p) => `${p.where}: ${p.message}`), [])
    })
  }

  // a started Jobtrack keeps the process alive: a script that never closes it never exits
  it("every snippet that starts a Jobtrack closes it (at its end, or on SIGTERM for a service)", () => {
    const open = snippets.filter((s) => s.document !== fragment).flatMap((s) =>
      [...s.code.matchAll(/await (\w+)\.start\(\)/g)]
        .filter(([, name]) => !s.code.includes(`${name}.close()`))
        .map(([, name]) => `${s.document}:${s.line}: ${name}.start() without ${name}.close()`)
    )
    assert.deepStrictEqual(open, [])
  })

  it("nothing outside the snippets fails", () => {
    assert.deepStrictEqual(problems.filter((p) => p.document === "(elsewhere)").map((p) => `${p.where}: ${p.message}`), [])
  })

  it("the checker reports a fragment's undefined names at the document's lines", () => {
    const found = problems.filter((p) => p.document === fragment).map((p) => `${p.where}: ${p.message}`)
    assert.deepStrictEqual(found, [
      `${fragment}:6: TS2304 Cannot find name 'jobs'.`,
      `${fragment}:6: TS2304 Cannot find name 'id'.`
    ])
    const [snippet] = extract("t.md", ["# t", "", "  ```typescript", "  const a = 1", "  ```"].join("\n"))
    assert.strictEqual(snippet?.line, 4)
    assert.strictEqual(snippet?.code, "const a = 1\n")
  })
})
