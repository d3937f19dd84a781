// Infer answers finished during one turn of the event loop are written together, in that turn's check
// phase (setImmediate), instead of one by one as each finishes. Every answer to a waiting client wakes that
// client; written back to back, the first write wakes it and the rest find it already running, so a busy
// server pays for far fewer cross-thread wake-ups (on the 2-vCPU benchmark VM such a wake-up costs the
// writer tens of microseconds: main-thread CPU per identity request fell from 57-105 us to 36-47 us under
// wrk -c64, see bench/README.md). The bytes sent are the same; each answer waits at most until the end of
// the current loop turn.
import type { ServerResponse } from "node:http";

/** Queues `send` (which writes the whole answer of `res`) for the end of the current loop turn. */
export type SendBatch = (res: ServerResponse, send: () => void) => void;

export function createSendBatch(): SendBatch {
  let responses: ServerResponse[] = [];
  let sends: (() => void)[] = [];
  const flush = (): void => {
    const rs = responses;
    const ss = sends;
    responses = [];
    sends = [];
    for (let i = 0; i < ss.length; i++) {
      try {
        ss[i]!();
      } catch (err) {
        // One answer that cannot be written (its connection went away) must not stop the others.
        rs[i]!.destroy(err as Error);
      }
    }
  };
  return (res, send) => {
    responses.push(res);
    if (sends.push(send) === 1) setImmediate(flush);
  };
}
