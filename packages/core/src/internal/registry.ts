import type * as JobDefinition from "../JobDefinition.js"
import { InvalidOptions } from "../JobError.js"

/**
 * Definitions by type; refuses two definitions of one type with `InvalidOptions`
 * (the constructors check their options first, so this is only the last guard).
 */
export const registry = (definitions: ReadonlyArray<JobDefinition.Any>): ReadonlyMap<string, JobDefinition.Any> => {
  const map = new Map<string, JobDefinition.Any>()
  definitions.forEach((def, i) => {
    if (map.has(def.type) && map.get(def.type) !== def) {
      throw new InvalidOptions({
        of: "job definitions",
        issues: [{ path: ["definitions", i], message: `two job definitions have the type "${def.type}"` }]
      })
    }
    map.set(def.type, def)
  })
  return map
}
