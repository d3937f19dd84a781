// Calling back an infer's caller (InferenceClient.inferCallback) instead of settling a promise: once,
// never from inside the call that started it, and so that a callback that throws cannot disturb the
// connection whose read delivered the answer (its exception is raised again on its own, as from any Node
// callback).

/** The end of a call made with a callback: the error (null on success), the value, the caller's context. */
export type InferCallback<T, C> = (error: unknown, value: T | undefined, context: C) => void;

function rethrow(e: unknown): never {
  throw e;
}

/** Calls `callback` now; what it throws is thrown again in its own tick (an uncaught exception). */
export function callBack<T, C>(callback: InferCallback<T, C>, error: unknown, value: T | undefined, context: C): void {
  try {
    callback(error, value, context);
  } catch (e) {
    process.nextTick(rethrow, e);
  }
}

/** A failure known before the call started: called back in a later tick. */
export function callBackLater<T, C>(callback: InferCallback<T, C>, error: unknown, context: C): void {
  process.nextTick(callBack, callback, error, undefined, context);
}

/** For roads that have only a promise: calls back when it settles. */
export function callBackFrom<T, C>(pending: Promise<T>, callback: InferCallback<T, C>, context: C): void {
  pending.then(
    (value) => callBack(callback, null, value, context),
    (error: unknown) => callBack(callback, error, undefined, context),
  );
}
