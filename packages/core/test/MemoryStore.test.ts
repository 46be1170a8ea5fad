import { MemoryStore } from "@jobtrack/core"
import { storeConformance } from "@jobtrack/core/conformance"

storeConformance("MemoryStore", { makeStore: MemoryStore.make })
