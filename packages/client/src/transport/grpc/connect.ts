// connectTimeoutMs for gRPC: grpc-js has no connect timeout of its own below its ~20 s TCP default, so a
// call first waits (bounded) for the channel to be READY. A channel that fails fast (refused, TLS error)
// is not waited on: the call goes out and fails with grpc-js's own UNAVAILABLE and its reason.
import { connectivityState, type Client } from "@grpc/grpc-js";
import { InferenceError } from "../../errors.ts";

export function connectTimeoutError(address: string, timeoutMs: number): InferenceError {
  const message = `could not connect to ${address} within ${timeoutMs} ms (connectTimeoutMs): the server does not complete the connection handshake`;
  // The cause carries undici's code for the same condition, so code that classifies connection failures
  // (nothing was sent: safe to retry elsewhere) treats both protocols alike.
  return new InferenceError("unavailable", message, { cause: Object.assign(new Error(message), { code: "UND_ERR_CONNECT_TIMEOUT" }) });
}

/**
 * Resolves once the channel is READY or has failed; rejects with `onTimeout()` after `timeoutMs`, or with
 * `onAbort()` when `signal` fires first.
 */
export function awaitChannel(
  client: Client,
  timeoutMs: number,
  onTimeout: () => Error,
  signal?: AbortSignal,
  onAbort?: () => Error,
): Promise<void> {
  const channel = client.getChannel();
  let state = channel.getConnectivityState(true);
  if (state === connectivityState.READY) return Promise.resolve();
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", aborted);
      if (err) reject(err);
      else resolve();
    };
    const aborted = (): void => finish(onAbort?.() ?? new Error("aborted"));
    signal?.addEventListener("abort", aborted, { once: true });
    const watch = (): void => {
      if (settled) return;
      if (state === connectivityState.READY || state === connectivityState.TRANSIENT_FAILURE || state === connectivityState.SHUTDOWN) return finish();
      channel.watchConnectivityState(state, deadline, (err) => {
        if (err) return finish(onTimeout());
        state = channel.getConnectivityState(true);
        watch();
      });
    };
    watch();
  });
}
