/**
 * Backpressure for Server-Sent Events: a client that stops reading (a frozen
 * tab, a stalled proxy, a script that never reads) must not make the server
 * buffer without bound. Before, every event was written whatever
 * `write()` answered: a frozen client of a chatty job held megabytes in the
 * server per stream, and grew until the job ended (and its socket never
 * times out).
 *
 * What a stream does, once its response holds more than `maxBufferedBytes`
 * unsent (`res.writableLength`, at least the socket's own high-water mark):
 *
 * - **coalesce**: it writes nothing more until the client has read what is
 *   buffered (`drain`); it keeps only the latest event and writes that one
 *   then. The jobs router's events are states (a view of the job), so the
 *   latest supersedes the ones in between; the console's change batches become
 *   one `resync` (the page re-reads what it shows). Heartbeats and ticks are
 *   skipped meanwhile (the connection is not idle). A stream's final event is
 *   always written; so the server holds at most `maxBufferedBytes` plus two
 *   events per stream (the one that crossed the bound, the last one).
 * - **drop**: a client that has not read the buffered events within
 *   `slowStreamTimeout` is disconnected (the socket reset, which frees the
 *   kernel's buffers too) and counted in `jobtrack_sse_streams_dropped_total`;
 *   an `EventSource` reconnects when it wakes up and gets the current state
 *   at once (with `Last-Event-ID`, a `resume` frame saying it missed some).
 *
 * Coalesced events are counted in `jobtrack_sse_events_coalesced_total`.
 *
 * @since 0.2.0
 */
import type { ServerResponse } from "node:http"
import type { Socket } from "node:net"
import { Duration, Effect, Metric, Option } from "effect"
import { InvalidOptions } from "@jobtrack/core"
import type { Issue } from "@jobtrack/core"

/**
 * @since 0.2.0
 * @category models
 */
export interface Limits {
  /** Unsent bytes a stream may hold before it coalesces (default 64 KiB). */
  readonly maxBufferedBytes: number
  /** How long a stream may stay behind before its client is dropped, in ms (default 30 s). */
  readonly stallMs: number
}

/**
 * Which router's streams (the metrics' `stream` label).
 *
 * @since 0.2.0
 * @category models
 */
export type StreamKind = "jobs" | "console"

/**
 * @since 0.2.0
 * @category metrics
 */
export const metrics = {
  dropped: Metric.counter("jobtrack_sse_streams_dropped_total", {
    description: "Event streams disconnected because their client did not read within slowStreamTimeout",
    incremental: true
  }),
  coalesced: Metric.counter("jobtrack_sse_events_coalesced_total", {
    description: "Events replaced by a later one (or by a resync) while their client was behind",
    incremental: true
  })
}

const count = (metric: Metric.Metric<number, Metric.CounterState<number>>, stream: StreamKind) =>
  Effect.runSync(Metric.update(Metric.withAttributes(metric, { stream }), 1))

/**
 * The limits from a router's options, checked: an `InvalidOptions` naming
 * each that is not a positive integer (bytes) or a positive duration.
 *
 * @example
 * ```ts
 * const limits = SsePacing.limits({ maxStreamBufferBytes: 64 * 1024, slowStreamTimeout: "30 seconds" }, "jobsRouter options")
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const limits = (
  options: { readonly maxStreamBufferBytes?: number | undefined; readonly slowStreamTimeout?: Duration.Input | undefined },
  of: string
): Limits => {
  const issues: Array<Issue> = []
  const maxBufferedBytes = options.maxStreamBufferBytes ?? 64 * 1024
  if (!Number.isInteger(maxBufferedBytes) || maxBufferedBytes < 1) {
    issues.push({ path: ["maxStreamBufferBytes"], message: `must be an integer of at least 1 (got ${String(maxBufferedBytes)})` })
  }
  let stallMs = 30_000
  if (options.slowStreamTimeout !== undefined) {
    const d = Duration.fromInput(options.slowStreamTimeout)
    stallMs = Option.isSome(d) ? Duration.toMillis(d.value) : NaN
    if (!(stallMs > 0 && Number.isFinite(stallMs))) {
      issues.push({ path: ["slowStreamTimeout"], message: `must be a positive, finite duration (got ${String(options.slowStreamTimeout)})` })
    }
  }
  if (issues.length > 0) throw new InvalidOptions({ of, issues })
  return { maxBufferedBytes, stallMs }
}

/**
 * One stream's pacing.
 *
 * @since 0.2.0
 * @category models
 */
export interface Paced {
  /** Whether the client keeps up: what is buffered is within the bound. */
  readonly keepingUp: () => boolean
  /**
   * Write now when the client keeps up; otherwise keep `write` as the latest
   * (replacing the one kept before) to run once the client has read what is
   * buffered.
   */
  readonly latest: (write: () => void) => void
  /** Run the event kept, if any, whether the client keeps up or not (before the stream's end). */
  readonly flush: () => void
  /** Stop pacing once the response has ended; a client still behind is dropped at its deadline. */
  readonly ended: () => void
}

/**
 * Pace the writes of an SSE response that `SseResponse.open` started.
 *
 * @example
 * ```ts
 * const paced = SsePacing.make(res, limits, "jobs")
 * paced.latest(() => SseResponse.writeFrame(res, frame))
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const make = (res: ServerResponse, limits: Limits, stream: StreamKind): Paced => {
  const socket = res.socket as Socket | null
  let kept: (() => void) | undefined
  let waiting = false
  let deadline: ReturnType<typeof setTimeout> | undefined

  // the response's unsent bytes (its own and its socket's); once it has ended and left the socket, the socket's
  const behind = () =>
    socket !== null && !socket.destroyed &&
    Math.max(res.writableLength, socket.writableLength) > Math.max(limits.maxBufferedBytes, socket.writableHighWaterMark)

  const stop = () => {
    if (deadline !== undefined) clearTimeout(deadline)
    deadline = undefined
    waiting = false
    socket?.off("drain", drained)
    // a finished stream forgets its socket: a keep-alive connection may carry many streams
    if (res.writableEnded) socket?.off("close", closed)
  }
  /** The client read what was buffered: the event kept goes out, and it may be behind again. */
  function drained() {
    stop()
    const write = kept
    kept = undefined
    if (write !== undefined && !res.writableEnded && !res.destroyed) write()
    if (behind()) wait()
  }
  /** Behind: wait for `drain` (the last write returned false: past the high-water mark), at most `stallMs`. */
  const wait = () => {
    if (waiting || socket === null) return
    waiting = true
    socket.on("drain", drained)
    deadline = setTimeout(() => {
      stop()
      kept = undefined
      count(metrics.dropped, stream)
      // a reset frees the kernel's buffers too (a close would keep sending them to a client that never reads);
      // only a TCP socket can be reset (TLS and unix sockets throw ERR_INVALID_HANDLE_TYPE): others are destroyed
      try {
        socket.resetAndDestroy()
      } catch {
        socket.destroy()
      }
    }, limits.stallMs)
    deadline.unref?.()
  }
  function closed() {
    stop()
    kept = undefined
  }
  socket?.once("close", closed)

  return {
    keepingUp: () => !waiting && !behind(),
    latest: (write) => {
      if (waiting || behind()) {
        if (kept !== undefined) count(metrics.coalesced, stream)
        kept = write
        wait()
        return
      }
      write()
      if (behind()) wait()
    },
    flush: () => {
      const write = kept
      kept = undefined
      if (write !== undefined && !res.writableEnded && !res.destroyed) write()
    },
    ended: () => {
      kept = undefined
      // what is buffered still has to reach the client: its deadline holds (a reused connection drains too)
      if (!waiting && behind()) wait()
      if (!waiting) socket?.off("close", closed)
    }
  }
}
