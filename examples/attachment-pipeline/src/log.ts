/** Structured logs: one JSON object per line on stdout. */
export const logEvent = (event: string, fields: Record<string, unknown> = {}, level = "info") =>
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), level, event, ...fields })}\n`)
