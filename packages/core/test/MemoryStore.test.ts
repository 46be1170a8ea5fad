import { MemoryStore } from "@jobtrack/core"
import { storeConformance } from "@jobtrack/core/testing"

storeConformance("MemoryStore", { makeStore: MemoryStore.make })
