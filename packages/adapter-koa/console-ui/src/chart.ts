// Throughput and latency charts drawn by uPlot (canvas: no markup from data). Buckets that
// count only some of their jobs (`partial`: the store's chart summary is catching up) are
// shaded, with a note above the charts.
import { h } from "preact"
import { useEffect, useRef } from "preact/hooks"
import htm from "htm"
import uPlot from "uplot"

const html = htm.bind(h)

interface Bucket {
  readonly start: string
  readonly completed: number
  readonly failed: number
  readonly durationP50Ms: number | null
  readonly durationP95Ms: number | null
  readonly waitP50Ms: number | null
  readonly waitP95Ms: number | null
  readonly partial?: boolean
}

/** Shade the x ranges (seconds) behind the lines. */
const shade = (ranges: ReadonlyArray<readonly [number, number]>) => (u: uPlot) => {
  const { ctx } = u
  const { height, top } = u.bbox
  ctx.save()
  ctx.fillStyle = "rgba(204, 153, 0, 0.15)"
  for (const [a, b] of ranges) {
    const x0 = u.valToPos(a, "x", true)
    const x1 = u.valToPos(b, "x", true)
    ctx.fillRect(x0, top, x1 - x0, height)
  }
  ctx.restore()
}

/**
 * Whether every partial bucket lies in the last few minutes of the chart: a
 * store busy enough that more jobs finished since its summary's edge (a
 * minute or two ago) than a chart reads directly, not a summary catching up.
 */
const newestOnly = (buckets: ReadonlyArray<Bucket>, bucketMs: number) => {
  const recent = Math.ceil(180_000 / bucketMs) + 1
  return buckets.every((b, i) => !b.partial || i >= buckets.length - recent)
}

/** The partial buckets as x ranges in seconds, consecutive ones merged. */
const partialRanges = (buckets: ReadonlyArray<Bucket>, bucketMs: number) => {
  const ranges: Array<[number, number]> = []
  for (const b of buckets) {
    if (!b.partial) continue
    const a = new Date(b.start).getTime() / 1000
    const last = ranges[ranges.length - 1]
    if (last && last[1] === a) last[1] = a + bucketMs / 1000
    else ranges.push([a, a + bucketMs / 1000])
  }
  return ranges
}

const plot = (
  el: HTMLElement,
  title: string,
  x: Array<number>,
  series: Array<{ label: string; stroke: string; data: Array<number | null> }>,
  shaded: ReadonlyArray<readonly [number, number]>
) => {
  const width = Math.max(320, Math.min(el.parentElement?.clientWidth ?? 800, 900))
  return new uPlot(
    {
      title,
      width,
      height: 180,
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, spanGaps: false }))],
      axes: [{}, { size: 60 }],
      hooks: { drawClear: [shade(shaded)] }
    },
    [x, ...series.map((s) => s.data)] as uPlot.AlignedData,
    el
  )
}

export const Chart = ({ buckets, bucketMs }: { buckets: ReadonlyArray<Bucket>; bucketMs: number }) => {
  const counts = useRef<HTMLDivElement>(null)
  const latency = useRef<HTMLDivElement>(null)
  const shaded = partialRanges(buckets, bucketMs)
  const partial = buckets.filter((b) => b.partial).length
  const counting = partial > 0 && newestOnly(buckets, bucketMs)
  useEffect(() => {
    const x = buckets.map((b) => new Date(b.start).getTime() / 1000)
    const a = plot(counts.current!, "Jobs finished", x, [
      { label: "completed", stroke: "#2a7", data: buckets.map((b) => b.completed) },
      { label: "failed", stroke: "#d33", data: buckets.map((b) => b.failed) }
    ], shaded)
    const b = plot(latency.current!, "Duration and queue wait (ms)", x, [
      { label: "duration p50", stroke: "#36c", data: buckets.map((b) => b.durationP50Ms) },
      { label: "duration p95", stroke: "#93c", data: buckets.map((b) => b.durationP95Ms) },
      { label: "wait p50", stroke: "#c90", data: buckets.map((b) => b.waitP50Ms) },
      { label: "wait p95", stroke: "#c60", data: buckets.map((b) => b.waitP95Ms) }
    ], shaded)
    return () => {
      a.destroy()
      b.destroy()
    }
  }, [buckets])
  return html`
    ${counting
      ? html`<p class="notice counting" role="status">
          The newest ${partial === 1 ? "bucket" : `${partial} buckets`} (shaded) count only the latest of
          their jobs: the chart summary reaches up to a minute or two ago, and more jobs finished since
          than a chart reads directly.</p>`
      : partial > 0
      ? html`<p class="notice catching-up" role="status">
          Catching up: ${partial} of ${buckets.length} buckets (shaded) do not count all their jobs yet
          while the chart summary is built; they fill in on their own.</p>`
      : null}
    <div class="chart-pair"><div ref=${counts}></div><div ref=${latency}></div></div>`
}
