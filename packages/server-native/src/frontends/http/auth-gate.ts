// Puts authentication in front of the REST handler: a request without accepted credentials gets
// 401 with `WWW-Authenticate: Bearer` and a KServe-style {"error": "..."} body, and never reaches the router.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Authenticator, AuthVerdict } from "../../security/auth.ts";

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

function reply(res: ServerResponse, status: number, message: string, extra?: Record<string, string>): void {
  const text = JSON.stringify({ error: message });
  res.writeHead(status, { ...extra, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

export function withHttpAuth(auth: Authenticator, next: Listener, log: (message: string) => void): Listener {
  return (req, res) => {
    const operation = `${req.method ?? "GET"} ${(req.url ?? "/").split("?")[0]}`;
    if (auth.exempt(operation)) return next(req, res);
    let verdict: AuthVerdict | Promise<AuthVerdict>;
    try {
      verdict = auth.check({ protocol: "http", operation, headers: req.headers as Record<string, string | undefined> });
    } catch (err) {
      verdict = Promise.reject(err);
    }
    const decide = (v: AuthVerdict): void => {
      if (v.ok) return next(req, res);
      // The body is not read: node drains it after the reply, keeping the connection usable.
      reply(res, 401, v.reason, { "WWW-Authenticate": 'Bearer realm="iaas"' });
    };
    if (!(verdict instanceof Promise)) return decide(verdict);
    verdict.then(decide, (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      log(`internal error: auth.verify failed for ${operation}: ${message}`);
      if (!res.headersSent) reply(res, 500, `authentication check failed: ${message}`);
    });
  };
}
