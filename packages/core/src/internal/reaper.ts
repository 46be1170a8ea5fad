/**
 * A reaper: a tiny `sh` process that kills a child's process group when the
 * host process dies, however it dies (SIGKILL, OOM killer, a crash): no
 * finalizer of the host runs then, so only something outside it can.
 *
 * The reaper reads its stdin, a pipe whose only writer is the host. The
 * kernel closes the host's end when the host exits, the reaper's `read` sees
 * end-of-file, and it sends SIGTERM to the group, then SIGKILL after the
 * grace period. When the command ends normally the host kills the reaper
 * first, so it never acts on a group that is gone (and whose id could be
 * reused). It ignores SIGINT, SIGHUP, SIGTERM and SIGQUIT: a Ctrl-C or a
 * terminal hang-up sent to the host's process group must not take the reaper
 * down with the host and leave the child behind.
 *
 * Why not `prctl(PR_SET_PDEATHSIG)` (`setpriv --pdeathsig`): Node cannot
 * call it, it is Linux-only, and it signals only the direct child, not the
 * grandchildren in its group.
 *
 * @internal
 */

const SCRIPT = `trap '' INT HUP TERM QUIT
read -r _ || :
kill -TERM -"$1" 2>/dev/null || exit 0
sleep "$2"
kill -KILL -"$1" 2>/dev/null
exit 0`

/** A reaper watching one process group. */
export interface Reaper {
  /** The command ended (or was killed): stop watching. */
  readonly dispose: () => void
}

/**
 * Watch process group `pgid` (a child spawned with `detached: true` leads
 * its own group). Without a usable `sh` the reaper cannot start: `onError`
 * is told, and the command runs unguarded.
 */
export const watch = (pgid: number, graceMs: number, onError: (cause: unknown) => void): Reaper => {
  const { spawn } = process.getBuiltinModule("node:child_process") // loaded when used, not on import
  const reaper = spawn("/bin/sh", ["-c", SCRIPT, "jobtrack-reaper", String(pgid), (Math.max(graceMs, 0) / 1000).toFixed(3)], {
    stdio: ["pipe", "ignore", "ignore"]
  })
  reaper.once("error", onError)
  // an EPIPE when the reaper is gone first is harmless
  reaper.stdin!.on("error", () => {})
  // neither the reaper nor its pipe keeps the host's event loop alive
  reaper.unref()
  ;(reaper.stdin as unknown as { unref?: () => void }).unref?.()
  return {
    dispose: () => {
      if (reaper.exitCode === null && reaper.signalCode === null) reaper.kill("SIGKILL")
    }
  }
}
