// Waiting for a connection's HTTP/2 handshake with a time limit and an AbortSignal, shared by the
// node:http2 connection and the client's own (../wire-h2/connection.ts), which differ only in how they
// learn that the handshake ended.

/**
 * Resolves once `watch` calls the function it is given; rejects with `onTimeout()` after `timeoutMs`, or
 * with `onAbort()` when `signal` aborts first. Whatever happens first wins; the timer and listener go.
 */
export function boundedWait(
  timeoutMs: number,
  onTimeout: () => Error,
  signal: AbortSignal | undefined,
  onAbort: (() => Error) | undefined,
  watch: (done: () => void) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", aborted);
      if (err) reject(err);
      else resolve();
    };
    const aborted = (): void => finish(onAbort?.() ?? new Error("aborted"));
    const timer = setTimeout(() => finish(onTimeout()), timeoutMs);
    signal?.addEventListener("abort", aborted, { once: true });
    watch(() => finish());
  });
}
