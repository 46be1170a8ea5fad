import type * as JobDefinition from "../JobDefinition.js"

/** Definitions by type; refuses two definitions of one type. */
export const registry = (definitions: ReadonlyArray<JobDefinition.Any>): ReadonlyMap<string, JobDefinition.Any> => {
  const map = new Map<string, JobDefinition.Any>()
  for (const def of definitions) {
    if (map.has(def.type) && map.get(def.type) !== def) {
      throw new TypeError(`two job definitions have the type "${def.type}"`)
    }
    map.set(def.type, def)
  }
  return map
}
