// The gRPC front end's HTTP/2 settings: windows and frame size wide enough that large tensors cross in
// few frames (http2-windows.ts), seen from a plain node:http2 client, and a large tensor still
// round-tripping byte-exact through grpc-js with them.
import assert from "node:assert/strict";
import { connect, type ClientHttp2Session, type Settings } from "node:http2";
import { once } from "node:events";
import { test } from "node:test";
import { identityModels, serveForSuite } from "./helpers.ts";
import { CONNECTION_WINDOW_BYTES, MAX_FRAME_BYTES, STREAM_WINDOW_BYTES } from "../src/frontends/grpc/http2-windows.ts";

const ctx = serveForSuite(identityModels());

async function session(): Promise<{ s: ClientHttp2Session; settings: Settings }> {
  const s = connect(`http://${ctx.srv.grpcUrl}`);
  const [settings] = (await once(s, "remoteSettings")) as [Settings];
  return { s, settings };
}

test("the server announces a 16 MiB stream window and accepts 1 MiB frames", async () => {
  const { s, settings } = await session();
  try {
    assert.equal(settings.initialWindowSize, STREAM_WINDOW_BYTES);
    assert.equal(settings.maxFrameSize, MAX_FRAME_BYTES);
    assert.ok(STREAM_WINDOW_BYTES > 65_535 && MAX_FRAME_BYTES > 16_384, "wider than HTTP/2's defaults");
  } finally {
    s.close();
  }
});

test("the server opens its connection window to 128 MiB once the session starts", async () => {
  const { s } = await session();
  try {
    // A ping's answer comes after the WINDOW_UPDATE the server sent when the session began.
    await new Promise<void>((resolve, reject) => s.ping((err) => (err ? reject(err) : resolve())));
    assert.equal(s.state.remoteWindowSize, CONNECTION_WINDOW_BYTES);
  } finally {
    s.close();
  }
});

test("a 24 MiB FP32 tensor round-trips byte-exact with the wide windows", async () => {
  const bytes = Buffer.alloc(24 * 1024 * 1024);
  for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE((i * 2654435761) >>> 0, i);
  const res = await ctx.client.call("ModelInfer", {
    model_name: "identity_fp32",
    inputs: [{ name: "INPUT0", datatype: "FP32", shape: [bytes.length / 4] }],
    raw_input_contents: [bytes],
  });
  assert.equal(res.raw_output_contents.length, 1);
  assert.ok(Buffer.compare(res.raw_output_contents[0], bytes) === 0, "output bytes equal input bytes");
});
