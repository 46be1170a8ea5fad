/**
 * Documentation snippets as files: every ```ts block of the documents users
 * copy from (README.md, each package's README, docs/guide.md) is a complete
 * module, type-checked by the TypeScript compiler against the packages' sources.
 *
 * A snippet is checked as its own file (`moduleDetection: "force"`), so it must
 * bring its own imports and define every name it uses. A snippet whose first
 * line is a file-name comment (`// src/jobs.ts`) is written under that name, so
 * the snippets of one document can import each other (`import { jobs } from
 * "./jobs.ts"`), as the files of one app do. Errors are reported at the line of
 * the document they come from.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

export const root = fileURLToPath(new URL("../../", import.meta.url))

/** The documents whose ```ts snippets must be complete files (paths from the repository root). */
export const documents = (): ReadonlyArray<string> => [
  "README.md",
  "packages/core/README.md",
  "packages/adapter-kysely/README.md",
  "packages/adapter-koa/README.md",
  "docs/guide.md",
  "docs/operations.md"
]

export interface Snippet {
  /** The document, relative to the repository root. */
  readonly document: string
  /** The line of the document where the snippet's code starts (1-based). */
  readonly line: number
  readonly code: string
}

/** The ```ts (or ```typescript) blocks of a markdown text. */
export const extract = (document: string, markdown: string): ReadonlyArray<Snippet> => {
  const out: Array<Snippet> = []
  const lines = markdown.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})\s*(ts|typescript)\s*$/.exec(lines[i]!)
    if (!open) continue
    const fence = open[2]!
    const start = i + 1
    let end = start
    while (end < lines.length && !lines[end]!.trimStart().startsWith(fence)) end++
    const indent = open[1]!.length
    out.push({ document, line: start + 1, code: lines.slice(start, end).map((l) => l.slice(indent)).join("\n") + "\n" })
    i = end
  }
  return out
}

export interface Problem {
  /** "docs/guide.md:57: TS2304 Cannot find name 'x'." */
  readonly where: string
  readonly document: string
  readonly message: string
}

const compilerOptions = (): ts.CompilerOptions => {
  const base = ts.getParsedCommandLineOfConfigFile(join(root, "tsconfig.json"), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"))
    }
  })
  if (!base) throw new Error("cannot read tsconfig.json")
  return {
    ...base.options,
    noEmit: true,
    // a reader's file: unused names are fine, library internals are not ours to check here
    noUnusedLocals: false,
    noUnusedParameters: false,
    skipLibCheck: true,
    moduleDetection: ts.ModuleDetectionKind.Force
  }
}

/**
 * Write every snippet of `docs` into `packaging/.snippets/` and type-check
 * them in one program. Returns the problems, each at its document line.
 */
export const check = (
  docs: ReadonlyArray<string> = documents(),
  /** Further files (from the repository root) to check in the same program, e.g. type tests. */
  extra: ReadonlyArray<string> = [],
  /**
   * Elsewhere than against the packages' sources: `dir` is where the snippets
   * are written (a consumer project's folder, so its installed packages are
   * the ones imported) and `options` the compiler options, replacing the
   * repository's (`noEmit: false` emits JavaScript too).
   */
  consumer?: { readonly dir: string; readonly options: ts.CompilerOptions }
): { readonly snippets: ReadonlyArray<Snippet>; readonly problems: ReadonlyArray<Problem> } => {
  const dir = consumer?.dir ?? join(root, "packaging", ".snippets")
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const snippets: Array<Snippet> = []
  const files = new Map<string, Snippet>()
  for (const document of docs) {
    let text: string
    try {
      text = readFileSync(join(root, document), "utf8")
    } catch {
      continue
    }
    for (const snippet of extract(document, text)) {
      const named = /^\/\/ ((?:[\w.-]+\/)*[\w.-]+\.ts)\s*$/.exec(snippet.code.split("\n", 1)[0]!)?.[1]
      const file = join(dir, document.replace(/[^A-Za-z0-9]+/g, "_"), named ?? `snippet_${snippet.line}.ts`)
      if (files.has(file)) throw new Error(`${document}:${snippet.line}: a second snippet named ${named}`)
      mkdirSync(dirname(file), { recursive: true })
      writeFileSync(file, snippet.code)
      files.set(file, snippet)
      snippets.push(snippet)
    }
  }
  if (files.size === 0 && extra.length === 0) return { snippets, problems: [] }
  const options = consumer ? { ...consumer.options, moduleDetection: ts.ModuleDetectionKind.Force } : compilerOptions()
  const program = ts.createProgram([...files.keys(), ...extra.map((f) => join(root, f))], options)
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...(options.noEmit ? [] : program.emit().diagnostics)]
  const problems: Array<Problem> = []
  for (const d of diagnostics) {
    const message = `TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`
    const snippet = d.file ? files.get(d.file.fileName) ?? files.get(join(d.file.fileName)) : undefined
    if (d.file && snippet && d.start !== undefined) {
      const { line } = d.file.getLineAndCharacterOfPosition(d.start)
      problems.push({ document: snippet.document, message, where: `${snippet.document}:${snippet.line + line}` })
    } else {
      const file = d.file ? relative(root, d.file.fileName) : "(program)"
      const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0
      problems.push({ document: extra.includes(file) ? file : "(elsewhere)", message, where: `${file}:${line}` })
    }
  }
  return { snippets, problems }
}

/** `node packaging/src/snippets.ts`: print the problems, exit 1 when there are any. */
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { snippets, problems } = check()
  for (const p of problems) console.log(`${p.where}: ${p.message}`)
  console.log(`${snippets.length} snippets, ${problems.length} problems`)
  process.exitCode = problems.length > 0 ? 1 : 0
}
