/**
 * Text jobtrack keeps on a handler's behalf (progress messages, log lines,
 * hook errors), cut to a bound so that a handler's megabyte of text cannot
 * make every page and stream that shows it as large.
 *
 * @internal
 */

/**
 * `text` when it has at most `max` UTF-16 code units; otherwise its start
 * followed by "…", `max` code units in all (one fewer when the cut would fall
 * between the two halves of a surrogate pair: the pair is dropped whole, so
 * the cut never makes a lone surrogate).
 */
export const cut = (text: string, max: number): string => {
  if (text.length <= max) return text
  let end = max - 1
  const last = text.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end--
  return `${text.slice(0, end)}…`
}
