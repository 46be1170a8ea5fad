// Rewrite the built package's imports of effect's barrels (`import { Effect, Stream } from
// "effect"`, and the same from "effect/http", "effect/observability", "effect/testing") into
// imports of the modules themselves (`import * as Effect from "effect/Effect"`), so that a
// host importing jobtrack loads the effect modules jobtrack uses instead of all of them
// (a barrel links every module it re-exports: ~250 files for "effect" alone). The sources
// keep the idiomatic barrel imports; this runs on dist/ after tsc. Run from the package's
// directory: `node ../../scripts/deep-imports.mjs`.
import { readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const effectDir = realpathSync(join("node_modules", "effect"))
/** What a barrel (dist/<sub>/index.js) re-exports: name → module specifier. */
const barrel = (sub) => {
  const specifier = sub === "" ? "effect" : `effect/${sub}`
  const file = join(effectDir, "dist", sub, "index.js")
  const text = readFileSync(file, "utf8")
  const names = new Map()
  const prefix = sub === "" ? "effect/" : `effect/${sub}/`
  for (const m of text.matchAll(/export \* as (\w+) from "\.\/([\w/]+)\.js"/g)) {
    names.set(m[1], { kind: "namespace", module: prefix + m[2] })
  }
  for (const m of text.matchAll(/export \{([^}]*)\} from "\.\/([\w/]+)\.js"/g)) {
    for (const name of m[1].split(",").map((s) => s.trim()).filter(Boolean)) {
      names.set(name, { kind: "named", module: prefix + m[2] })
    }
  }
  return [specifier, names]
}
const barrels = new Map(["", "http", "observability", "testing"].map(barrel))

const rewrite = (source, file) =>
  source.replace(/^import \{([^}]*)\} from "(effect(?:\/(?:http|observability|testing))?)";$/gm, (whole, list, specifier) => {
    const names = barrels.get(specifier)
    const lines = []
    const named = new Map()
    for (const part of list.split(",").map((s) => s.trim()).filter(Boolean)) {
      const [imported, local = imported] = part.split(/\s+as\s+/)
      const target = names.get(imported)
      if (target === undefined) throw new Error(`${file}: "${imported}" is not re-exported by ${specifier}`)
      if (target.kind === "namespace") lines.push(`import * as ${local} from "${target.module}";`)
      else named.set(target.module, [...(named.get(target.module) ?? []), imported === local ? imported : `${imported} as ${local}`])
    }
    for (const [module, list] of named) lines.push(`import { ${list.join(", ")} } from "${module}";`)
    return lines.join(" ")
  })

const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) walk(path)
    else if (entry.name.endsWith(".js")) {
      const before = readFileSync(path, "utf8")
      const after = rewrite(before, path)
      if (after !== before) writeFileSync(path, after)
    }
  }
}
walk(process.argv[2] ?? "dist")
