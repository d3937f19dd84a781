// Authentication for every gRPC method as a grpc-js server interceptor: the request metadata is checked
// before any message reaches a handler; refused calls end with UNAUTHENTICATED.
import * as grpc from "@grpc/grpc-js";
import type { Authenticator, AuthVerdict } from "../../security/auth.ts";

function textMetadata(metadata: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata.getMap())) if (typeof v === "string") out[k] = v;
  return out;
}

export function authInterceptor(auth: Authenticator, log: (message: string) => void): grpc.ServerInterceptor {
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, admit) => {
            const operation = method.path;
            if (auth.exempt(operation)) return admit(metadata);
            const refuse = (code: grpc.status, details: string): void =>
              call.sendStatus({ code, details, metadata: new grpc.Metadata() });
            const decide = (v: AuthVerdict): void => (v.ok ? admit(metadata) : refuse(grpc.status.UNAUTHENTICATED, v.reason));
            let verdict: AuthVerdict | Promise<AuthVerdict>;
            try {
              verdict = auth.check({ protocol: "grpc", operation, headers: textMetadata(metadata) });
            } catch (err) {
              verdict = Promise.reject(err);
            }
            if (!(verdict instanceof Promise)) return decide(verdict);
            verdict.then(decide, (err: unknown) => {
              const message = err instanceof Error ? err.message : String(err);
              log(`internal error: auth.verify failed for ${operation}: ${message}`);
              refuse(grpc.status.INTERNAL, `authentication check failed: ${message}`);
            });
          },
        }),
    });
}
