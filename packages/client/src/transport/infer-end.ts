// Applying an InferEnd (transport.ts) to an infer promise, for layers that cannot pass it further down.
import type { InferEnd, InferResponse } from "./transport.ts";

/** `pending` settled as `end` says: end.done(answer), or rejected with end.failed(error). */
export function endWith<T>(pending: Promise<InferResponse>, end: InferEnd<T>): Promise<T> {
  return pending.then(
    (response) => end.done(response),
    (error: unknown) => {
      throw end.failed(error);
    },
  );
}
