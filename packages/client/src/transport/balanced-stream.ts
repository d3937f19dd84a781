// Inference streams behind the balancing layer (balanced.ts). A stream opens on the endpoint the policy
// picks (ejected endpoints skipped) and stays there for its lifetime: the state of a sequence sent on it
// lives on that server. While open it counts as one outstanding call of its endpoint, so
// least-outstanding spreads long-lived streams as it spreads unary calls. A connection failure ejects the
// endpoint as a failed unary call does. When the connection could not be made at all ("not_sent":
// nothing reached the server) and the server has not answered anything, the stream is opened again on
// the next endpoint and what was sent so far is sent there, as a unary call that never left moves on;
// once the server has answered, requests are no longer kept and a failure ends the stream.
import { AsyncLocalStorage } from "node:async_hooks";
import type { CallOptions } from "../api.ts";
import { withAttempts } from "./attempts.ts";
import { connectionFailure, type ConnectionFailure } from "./connection-failure.ts";
import { deadlineOf } from "./deadline.ts";
import type { InferRequest, StreamChannel, StreamHandlers, Transport } from "./transport.ts";

/** What the balancer keeps per endpoint that a stream reads and updates. */
export interface StreamEndpoint {
  readonly transport: Transport;
  healthy: boolean;
  outstanding: number;
  requests: number;
  /** Set while the client's close() waits for the endpoint's calls and streams to end. */
  whenIdle: (() => void) | undefined;
}

export interface StreamBalancer<E extends StreamEndpoint> {
  /** How many endpoints there are (with one, there is nowhere to fail over to). */
  readonly size: number;
  /** The next endpoint by the policy, not in `skip`, healthy ones first; undefined when all are in `skip`. */
  pick(skip: readonly E[] | undefined): E | undefined;
  /** Takes `ep` out of rotation after a connection failure. */
  eject(ep: E, failure: ConnectionFailure, message: string): void;
  /** Whether the client was closed (no fail-over then). */
  closed(): boolean;
}

/** Opens a stream on an endpoint `balancer` picks; handlers see one stream whatever endpoint carried it. */
export function openBalancedStream<E extends StreamEndpoint>(balancer: StreamBalancer<E>, call: CallOptions, handlers: StreamHandlers): StreamChannel {
  const deadline = balancer.size > 1 ? deadlineOf(call) : undefined;
  let tried: E[] | undefined;
  // Requests sent while the server has answered nothing: what a fail-over sends again. Not kept with a
  // single endpoint; dropped at the first answer.
  let unanswered: InferRequest[] | undefined = balancer.size > 1 ? [] : undefined;
  // A fail-over opens the stream from a callback of the failed one: it runs in the caller's async
  // context (e.g. its active trace span, the parent of the new attempt's span), captured now.
  const inCallerContext = unanswered && AsyncLocalStorage.snapshot();
  let halfClosed = false;
  let cancelled = false;
  let attempts = 0;

  const attempt = (ep: E, attemptCall: CallOptions): StreamChannel => {
    ep.outstanding++;
    ep.requests++;
    attempts++;
    let answered = false;
    const onAnswer = (): void => {
      if (answered) return;
      answered = true;
      unanswered = undefined;
      // An answer proves the endpoint is up (it may have been tried while ejected, all others being down).
      ep.healthy = true;
    };
    let open = true;
    const release = (): void => {
      if (!open) return;
      open = false;
      if (--ep.outstanding === 0) ep.whenIdle?.();
    };
    try {
      return ep.transport.openStream!(attemptCall, {
        response(response) {
          onAnswer();
          handlers.response(response);
        },
        error(message, response) {
          onAnswer();
          handlers.error(message, response);
        },
        close(error) {
          release();
          const failure = error === undefined ? undefined : connectionFailure(error);
          if (failure) balancer.eject(ep, failure, error!.message);
          if (failure === "not_sent" && unanswered !== undefined && !cancelled && !call.signal?.aborted && !deadline?.expired() && !balancer.closed()) {
            (tried ??= []).push(ep);
            const next = balancer.pick(tried);
            if (next !== undefined && moveTo(next)) return;
          }
          // Endpoints tried are worth saying when the connection failed, not when the caller cancelled.
          handlers.close(failure ? withAttempts(error!, attempts) : error);
        },
      });
    } catch (e) {
      release();
      throw e;
    }
  };

  let channel = attempt(balancer.pick(undefined)!, call);

  /** Re-opens the stream on `ep` with what was sent so far; false when that fails at once. */
  function moveTo(ep: E): boolean {
    const replay = unanswered!;
    try {
      channel = inCallerContext!(attempt, ep, deadline ? deadline.callFor(call) : call);
    } catch {
      return false;
    }
    // These requests were encoded once already: sending them again does not throw.
    for (const request of replay) channel.send(request);
    if (halfClosed) channel.end();
    return true;
  }

  return {
    send(request: InferRequest): void {
      channel.send(request);
      unanswered?.push(request);
    },
    end(): void {
      halfClosed = true;
      channel.end();
    },
    cancel(reason?: unknown): void {
      cancelled = true;
      channel.cancel(reason);
    },
  };
}
