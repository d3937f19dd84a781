// HTTP infer answers are written in a batch at the end of the loop turn (frontends/http/batched-sends.ts):
// the batch itself, and the real server answering many concurrent requests and surviving a client that
// leaves before its answer is written.
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { request as httpRequest } from "node:http";
import { test } from "node:test";
import { createSendBatch } from "../src/frontends/http/batched-sends.ts";
import { binaryBody, identityConfig, serveForSuite, splitBinaryResponse, http } from "./helpers.ts";

test("queued sends run together in the check phase, in order; one that throws destroys only its response", async () => {
  const batch = createSendBatch();
  const order: string[] = [];
  const destroyed: string[] = [];
  const fakeRes = (name: string) => ({ destroy: (err: Error) => destroyed.push(`${name}: ${err.message}`) }) as unknown as ServerResponse;
  batch(fakeRes("a"), () => order.push("a"));
  batch(fakeRes("b"), () => {
    throw new Error("socket gone");
  });
  batch(fakeRes("c"), () => order.push("c"));
  await null;
  assert.deepEqual(order, [] as string[], "nothing is written before the end of the loop turn");
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ["a", "c"]);
  assert.deepEqual(destroyed, ["b: socket gone"]);
  // A later turn starts a new batch.
  batch(fakeRes("d"), () => order.push("d"));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ["a", "c", "d"]);
});

const srv = serveForSuite({ ident: identityConfig("ident", "TYPE_INT32") });

test("many concurrent infer requests on separate connections each get their own answer", async () => {
  const answers = await Promise.all(
    Array.from({ length: 40 }, async (_, i) => {
      const values = Int32Array.from({ length: 8 }, (_, k) => i * 100 + k);
      const { body, headerLength } = binaryBody(
        { inputs: [{ name: "INPUT0", datatype: "INT32", shape: [8], parameters: { binary_data_size: 32 } }], outputs: [{ name: "OUTPUT0", parameters: { binary_data: true } }] },
        [new Uint8Array(values.buffer)],
      );
      const reply = await http(srv.srv.httpUrl, "/v2/models/ident/infer", { body, headers: { "Inference-Header-Content-Length": String(headerLength), Connection: "close" } });
      assert.equal(reply.status, 200);
      const out = splitBinaryResponse(reply).blobs.get("OUTPUT0")!;
      return { i, got: [...new Int32Array(Uint8Array.from(out).buffer)], want: [...values] };
    }),
  );
  for (const a of answers) assert.deepEqual(a.got, a.want, `request ${a.i}`);
});

test("a client that disconnects before its answer is written does not disturb the server", async () => {
  const body = JSON.stringify({ inputs: [{ name: "INPUT0", datatype: "INT32", shape: [2], data: [1, 2] }] });
  const url = new URL(`${srv.srv.httpUrl}/v2/models/ident/infer`);
  await new Promise<void>((resolve) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers: { "Content-Length": Buffer.byteLength(body) } });
    req.on("error", () => resolve());
    req.on("response", () => resolve());
    req.end(body, () => {
      req.destroy();
      resolve();
    });
  });
  await new Promise((resolve) => setTimeout(resolve, 20));
  const reply = await http(srv.srv.httpUrl, "/v2/models/ident/infer", { body });
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.json().outputs[0].data, [1, 2]);
});
