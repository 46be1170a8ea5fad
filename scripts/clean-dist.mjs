// Remove the package's dist/ before a build, so a pack never ships stale files.
import { rmSync } from "node:fs"
rmSync("dist", { recursive: true, force: true })
