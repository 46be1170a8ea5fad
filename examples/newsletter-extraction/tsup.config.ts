import { defineConfig } from "tsup"

// Built to plain JavaScript so the app runs on any supported Node (20 and later),
// without type stripping; the pipeline is its own entry, run as a child process.
export default defineConfig({
  entry: ["src/main.ts", "src/pipeline.ts"],
  format: ["esm"],
  target: "node20",
  clean: true,
  sourcemap: true
})
