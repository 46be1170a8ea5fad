/**
 * The W3C Trace Context `traceparent` header (`00-<trace id>-<span id>-<flags>`),
 * written for a job's enqueue span and read back as the remote parent of its
 * attempts. What `effect/http/HttpTraceContext` does for this one header,
 * without linking effect's HTTP headers module (and DateTime, Redacted) into a
 * plain import of jobtrack (issue 13, item 6).
 *
 * @internal
 */
import { Tracer } from "effect"
import type { Tracer as TracerNs } from "effect"

const traceIdPattern = /^[0-9a-f]{32}$/
const spanIdPattern = /^[0-9a-f]{16}$/
const flagsPattern = /^[0-9a-f]{2}$/

/** The header of `span`: version 00, its trace and span ids, "01" when sampled. */
export const format = (span: { readonly traceId: string; readonly spanId: string; readonly sampled: boolean }): string =>
  `00-${span.traceId.padStart(32, "0")}-${span.spanId}-${span.sampled ? "01" : "00"}`

/** The span a header names, or `undefined` for anything but a valid version-00 header. */
export const parse = (header: string): TracerNs.ExternalSpan | undefined => {
  const parts = header.split("-")
  if (parts.length !== 4) return undefined
  const [version, traceId, spanId, flags] = parts as [string, string, string, string]
  if (
    version !== "00" || !traceIdPattern.test(traceId) || !spanIdPattern.test(spanId) || !flagsPattern.test(flags) ||
    traceId === "00000000000000000000000000000000" || spanId === "0000000000000000"
  ) return undefined
  return Tracer.externalSpan({ traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 })
}
