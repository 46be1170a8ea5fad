import { defineConfig } from "tsup"

// Built to plain JavaScript so the app runs on any supported Node (20 and later),
// without type stripping.
export default defineConfig({
  entry: ["src/main.ts"],
  format: ["esm"],
  target: "node20",
  clean: true,
  sourcemap: true
})
