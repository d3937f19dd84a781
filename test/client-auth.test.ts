// @iaas/client authentication (bearer, basic, per-request hook) and custom headers, over HTTP and gRPC,
// against the reference server with authentication on. The server's verify function records the headers
// (HTTP) and metadata (gRPC) of every request, so the tests see exactly what reached it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startServer, type AuthRequest, type RunningServer } from "@iaas/server-native";
import { InferenceError, Tensor, createClient, type ClientOptions, type InferenceClient, type Protocol } from "@iaas/client";

const BASIC = `Basic ${Buffer.from("ada:lovelace").toString("base64")}`;
const ACCEPTED = new Set(["Bearer tok-static", "Bearer tok-hook-1", "Bearer tok-hook-2", BASIC]);

let srv: RunningServer;
const seen: AuthRequest[] = [];
before(async () => {
  srv = await startServer({
    httpPort: 0,
    grpcPort: 0,
    auth: {
      verify: (r) => {
        seen.push(r);
        return ACCEPTED.has(r.headers.authorization ?? "");
      },
    },
  });
});
after(() => srv.close());

const urlOf = (protocol: Protocol): string => (protocol === "http" ? srv.httpUrl : srv.grpcUrl);
const infer = (c: InferenceClient) => c.infer("identity_fp32", [new Tensor("INPUT0", "FP32", [2], Float32Array.of(4, 5))]);

async function withClient(protocol: Protocol, options: Omit<ClientOptions, "url">, fn: (c: InferenceClient) => Promise<void>): Promise<void> {
  const client = createClient({ url: urlOf(protocol), protocol, timeoutMs: 10_000, retry: false, ...options });
  try {
    await fn(client);
  } finally {
    await client.close();
  }
}

/** The request the server saw last for an operation (HTTP "GET /v2", gRPC ".../ServerMetadata"). */
function lastSeen(fragment: string): AuthRequest {
  const r = seen.findLast((s) => s.operation.includes(fragment));
  assert.ok(r, `the server saw no request for ${fragment}`);
  return r;
}

for (const protocol of ["http", "grpc"] as const) {
  describe(`${protocol}`, () => {
    test("no credentials: unauthenticated, with the server's reason, health checks included", async () => {
      await withClient(protocol, {}, async (c) => {
        for (const call of [() => c.serverMetadata(), () => infer(c), () => c.isServerReady()]) {
          await assert.rejects(call(), (e: InferenceError) => {
            assert.equal(e.code, "unauthenticated", e.message);
            assert.match(e.message, /authentication required/);
            if (protocol === "http") assert.equal(e.httpStatus, 401);
            else assert.equal(e.grpcCode, 16);
            return true;
          });
        }
      });
    });

    test("auth: { bearer } and { basic } send one Authorization header and are admitted", async () => {
      await withClient(protocol, { auth: { bearer: "tok-static" } }, async (c) => {
        assert.deepEqual(Array.from((await infer(c)).output("OUTPUT0").data as Float32Array), [4, 5]);
        assert.equal(await c.isServerLive(), true);
        assert.equal(lastSeen(protocol === "http" ? "/infer" : "ModelInfer").headers.authorization, "Bearer tok-static");
      });
      await withClient(protocol, { auth: { basic: { username: "ada", password: "lovelace" } } }, async (c) => {
        assert.equal((await c.serverMetadata()).name, "iaas");
        assert.equal(lastSeen(protocol === "http" ? "GET /v2" : "ServerMetadata").headers.authorization, BASIC);
      });
      await withClient(protocol, { auth: { basic: { username: "ada", password: "wrong" } } }, async (c) => {
        await assert.rejects(c.serverMetadata(), (e: InferenceError) => e.code === "unauthenticated" && /not accepted/.test(e.message));
      });
    });

    test("an auth hook runs for every request with the protocol, method and URL, and may be async", async () => {
      const contexts: { protocol: string; method: string; url: string }[] = [];
      let n = 0;
      const hook = async (ctx: { protocol: Protocol; method: string; url: string }) => {
        contexts.push(ctx);
        await new Promise((r) => setTimeout(r, 1));
        return { authorization: `Bearer tok-hook-${(n++ % 2) + 1}` };
      };
      await withClient(protocol, { auth: hook }, async (c) => {
        await c.serverMetadata();
        await infer(c);
        await infer(c);
      });
      assert.equal(contexts.length, 3);
      assert.ok(contexts.every((x) => x.protocol === protocol));
      if (protocol === "http") {
        assert.deepEqual(contexts.map((x) => x.method), ["GET", "POST", "POST"]);
        assert.equal(contexts[0]!.url, `${srv.httpUrl}/v2`);
        assert.equal(contexts[1]!.url, `${srv.httpUrl}/v2/models/identity_fp32/infer`);
      } else {
        assert.deepEqual(contexts.map((x) => x.method), ["ServerMetadata", "ModelInfer", "ModelInfer"]);
        assert.equal(contexts[1]!.url, `grpc://${srv.grpcUrl}/inference.GRPCInferenceService/ModelInfer`);
      }
      // Both tokens the hook produced reached the server.
      const tokens = seen.filter((s) => s.protocol === protocol).map((s) => s.headers.authorization);
      assert.ok(tokens.includes("Bearer tok-hook-1") && tokens.includes("Bearer tok-hook-2"));
    });

    test("a failing hook rejects the call without sending it; explicit headers override auth", async () => {
      const before = seen.length;
      await withClient(protocol, { auth: () => Promise.reject(new Error("token service down")) }, async (c) => {
        await assert.rejects(c.serverMetadata(), (e: InferenceError) => {
          assert.equal(e.code, "unauthenticated");
          assert.match(e.message, /auth hook failed for .*: token service down/);
          return true;
        });
      });
      assert.equal(seen.length, before, "nothing reached the server");
      await withClient(protocol, { auth: { bearer: "stale" }, headers: { authorization: "Bearer tok-static" } }, async (c) => {
        assert.equal((await c.serverMetadata()).name, "iaas");
      });
      await withClient(protocol, { auth: { bearer: "tok-static" } }, async (c) => {
        await assert.rejects(c.serverMetadata({ headers: { authorization: "Bearer per-call-wrong" } }), (e: InferenceError) => e.code === "unauthenticated");
      });
    });

    test("client headers and per-call headers reach the server; per-call ones win", async () => {
      await withClient(protocol, { auth: { bearer: "tok-static" }, headers: { "x-client": "c1", "x-shared": "client" } }, async (c) => {
        await c.infer("identity_fp32", [new Tensor("INPUT0", "FP32", [1], Float32Array.of(1))], {
          headers: { "x-call": "k2", "x-shared": "call" },
        });
        const h = lastSeen(protocol === "http" ? "/infer" : "ModelInfer").headers;
        assert.equal(h["x-client"], "c1");
        assert.equal(h["x-call"], "k2");
        assert.equal(h["x-shared"], "call");
        await c.serverMetadata();
        const m = lastSeen(protocol === "http" ? "GET /v2" : "ServerMetadata").headers;
        assert.equal(m["x-client"], "c1");
        assert.equal(m["x-call"], undefined, "per-call headers stay with their call");
      });
    });
  });
}

test("malformed auth options are rejected by createClient", () => {
  assert.throws(() => createClient({ url: "http://127.0.0.1:1", auth: { bearer: "" } }), /auth\.bearer must be a non-empty token/);
  assert.throws(() => createClient({ url: "http://127.0.0.1:1", auth: { basic: { username: "a:b", password: "x" } } }), /cannot contain ':'/);
  assert.throws(() => createClient({ url: "http://127.0.0.1:1", auth: { token: "x" } as never }), /auth must be/);
});
