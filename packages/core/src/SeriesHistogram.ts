/**
 * The log-scaled histogram the console's charts take percentiles from
 * (`AdminStore.series`): a duration or a queue wait falls into a bin, eight
 * bins per doubling, and a percentile is the middle of the bin that holds
 * the nearest-rank value — within 4.4 % of it. Every store bins the same way,
 * so the same jobs give the same chart on every store; a store can keep bin
 * counts instead of every value (PostgreSQL sums them per minute), which is
 * what keeps a day's chart cheap at a million jobs.
 *
 * @example
 * ```ts
 * const bins = new Map<number, number>()
 * for (const ms of [120, 130, 5_000]) SeriesHistogram.add(bins, ms)
 * SeriesHistogram.percentile(bins, 0.5) // ≈ 130
 * ```
 * @since 0.2.0
 */

/**
 * Bins per doubling.
 *
 * @since 0.2.0
 * @category constants
 */
export const binsPerOctave = 8

/**
 * The bin of a value in ms: 0 below 1 ms (and for negative values: clocks
 * disagree), else `floor(log2(ms) * 8) + 1`.
 *
 * @since 0.2.0
 * @category helpers
 */
export const binOf = (ms: number): number => (ms < 1 || !Number.isFinite(ms) ? 0 : Math.floor(Math.log2(ms) * binsPerOctave) + 1)

/**
 * The value a bin stands for: 0 for bin 0, else its geometric middle (ms,
 * rounded to µs).
 *
 * @since 0.2.0
 * @category helpers
 */
export const binValue = (bin: number): number =>
  bin <= 0 ? 0 : Math.round(2 ** ((bin - 0.5) / binsPerOctave) * 1000) / 1000

/**
 * Count one value into bin counts.
 *
 * @since 0.2.0
 * @category helpers
 */
export const add = (bins: Map<number, number>, ms: number, n = 1): void => {
  const b = binOf(ms)
  bins.set(b, (bins.get(b) ?? 0) + n)
}

/**
 * The nearest-rank percentile (`p` in 0–1) of the binned values, as its
 * bin's value; null when there are none.
 *
 * @since 0.2.0
 * @category helpers
 */
export const percentile = (bins: ReadonlyMap<number, number>, p: number): number | null => {
  let total = 0
  for (const n of bins.values()) total += n
  if (total === 0) return null
  const rank = Math.min(total, Math.max(1, Math.ceil(p * total)))
  let seen = 0
  for (const bin of [...bins.keys()].sort((a, b) => a - b)) {
    seen += bins.get(bin)!
    if (seen >= rank) return binValue(bin)
  }
  return null
}
