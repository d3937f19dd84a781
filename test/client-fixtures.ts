// Set-up shared by the client tests that run against the reference server: one server for the whole
// test file, and a client closed after use.
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { startServer, type RunningServer, type StartServerOptions } from "@iaas/server-native";
import { InferenceError, createClient, type ClientOptions, type InferenceClient } from "@iaas/client";
import { createTestPki, type TestPki } from "../packages/server-native/test/tls-fixtures.ts";

/** The reference server (free ports, default repository unless `options` say otherwise), started in `before` and closed in `after`. */
export function referenceServerForFile(options: StartServerOptions = {}): { readonly srv: RunningServer } {
  let srv: RunningServer | undefined;
  before(async () => {
    srv = await startServer({ httpPort: 0, grpcPort: 0, ...options });
  });
  after(() => srv?.close());
  return {
    get srv() {
      if (!srv) throw new Error("referenceServerForFile: server not started yet (use it inside tests)");
      return srv;
    },
  };
}

/**
 * A throw-away test PKI and two reference servers for the enclosing describe: `tls` (server certificate
 * only) and `mtls` (client certificates signed by the test CA required), started in `before`.
 */
export function tlsServersForSuite(): { readonly pki: TestPki; readonly tls: RunningServer; readonly mtls: RunningServer } {
  let state: { pki: TestPki; tls: RunningServer; mtls: RunningServer } | undefined;
  before(async () => {
    const pki = createTestPki();
    const tls = await startServer({ httpPort: 0, grpcPort: 0, tls: { cert: pki.serverCert, key: pki.serverKey } });
    const mtls = await startServer({ httpPort: 0, grpcPort: 0, tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca } });
    state = { pki, tls, mtls };
  });
  after(async () => {
    await state?.tls.close();
    await state?.mtls.close();
    state?.pki.remove();
  });
  const get = () => {
    if (!state) throw new Error("tlsServersForSuite: servers not started yet (use them inside tests)");
    return state;
  };
  return {
    get pki() {
      return get().pki;
    },
    get tls() {
      return get().tls;
    },
    get mtls() {
      return get().mtls;
    },
  };
}

/** Runs `fn` with a client (retries off unless `options` turn them on: tests see each failure) and closes it. */
export async function withClient<T>(options: ClientOptions, fn: (c: InferenceClient) => Promise<T>): Promise<T> {
  const client = createClient({ retry: false, ...options });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/**
 * A client of `server()` over `protocol` (retries off) for the enclosing describe: created in `before`,
 * closed in `after`.
 */
export function clientForSuite(server: () => RunningServer, protocol: "http" | "grpc"): { readonly client: InferenceClient } {
  let client: InferenceClient | undefined;
  before(() => {
    const srv = server();
    client = createClient({ url: protocol === "http" ? srv.httpUrl : `grpc://${srv.grpcUrl}`, retry: false });
  });
  after(() => client?.close());
  return {
    get client() {
      if (!client) throw new Error("clientForSuite: client not created yet (use it inside tests)");
      return client;
    },
  };
}

/** Asserts that `p` rejects with an InferenceError of `code` (and a message matching `message`); returns the error. */
export async function expectCode(p: Promise<unknown>, code: string, message?: RegExp): Promise<InferenceError> {
  const e = await p.then(
    () => assert.fail(`expected a rejection with code ${code}`),
    (err: unknown) => err,
  );
  assert.ok(e instanceof InferenceError, `expected an InferenceError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  if (message) assert.match(e.message, message);
  return e;
}
