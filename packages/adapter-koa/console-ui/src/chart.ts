// Throughput and latency charts drawn by uPlot (canvas: no markup from data).
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
}

const plot = (el: HTMLElement, title: string, x: Array<number>, series: Array<{ label: string; stroke: string; data: Array<number | null> }>) => {
  const width = Math.max(320, Math.min(el.parentElement?.clientWidth ?? 800, 900))
  return new uPlot(
    {
      title,
      width,
      height: 180,
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, spanGaps: false }))],
      axes: [{}, { size: 60 }]
    },
    [x, ...series.map((s) => s.data)] as uPlot.AlignedData,
    el
  )
}

export const Chart = ({ buckets }: { buckets: ReadonlyArray<Bucket> }) => {
  const counts = useRef<HTMLDivElement>(null)
  const latency = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const x = buckets.map((b) => new Date(b.start).getTime() / 1000)
    const a = plot(counts.current!, "Jobs finished", x, [
      { label: "completed", stroke: "#2a7", data: buckets.map((b) => b.completed) },
      { label: "failed", stroke: "#d33", data: buckets.map((b) => b.failed) }
    ])
    const b = plot(latency.current!, "Duration and queue wait (ms)", x, [
      { label: "duration p50", stroke: "#36c", data: buckets.map((b) => b.durationP50Ms) },
      { label: "duration p95", stroke: "#93c", data: buckets.map((b) => b.durationP95Ms) },
      { label: "wait p50", stroke: "#c90", data: buckets.map((b) => b.waitP50Ms) },
      { label: "wait p95", stroke: "#c60", data: buckets.map((b) => b.waitP95Ms) }
    ])
    return () => {
      a.destroy()
      b.destroy()
    }
  }, [buckets])
  return html`<div class="chart-pair"><div ref=${counts}></div><div ref=${latency}></div></div>`
}
