// A scripted HTTP/1.1 peer (http-request-peer.ts) that answers as an identity model and can hold its answers:
// shared by the HTTP queue tests.
import { httpRequestPeer, type HttpRequestPeer } from "./http-request-peer.ts";

/**
 * Model "echo" answers INPUT0 back as OUTPUT0 (INT32); "bad" answers 400. While `hold` is set, answers
 * wait until release(); every request is recorded in arrival order.
 */
export async function holdingEchoPeer(): Promise<HttpRequestPeer & { state: { hold: boolean }; release(): void }> {
  let held: (() => void)[] = [];
  const state = { hold: false };
  const peer = await httpRequestPeer(({ head, path, body }, socket) => {
    const answer = (): void => {
      if (path.includes("/bad/")) {
        const msg = JSON.stringify({ error: "bad input" });
        socket.write(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${msg.length}\r\n\r\n${msg}`);
        return;
      }
      const headerLength = Number(/\r\ninference-header-content-length: *(\d+)/i.exec(head)?.[1]);
      const request = JSON.parse(body.toString("utf8", 0, headerLength)) as { inputs: { shape: number[]; parameters: { binary_data_size: number } }[] };
      const size = request.inputs[0]!.parameters.binary_data_size;
      const data = Buffer.from(body.subarray(headerLength, headerLength + size));
      const json = JSON.stringify({
        model_name: "echo",
        model_version: "1",
        outputs: [{ name: "OUTPUT0", datatype: "INT32", shape: request.inputs[0]!.shape, parameters: { binary_data_size: size } }],
      });
      socket.write(
        `HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ninference-header-content-length: ${Buffer.byteLength(json)}\r\n` +
          `content-length: ${Buffer.byteLength(json) + size}\r\n\r\n`,
      );
      socket.write(Buffer.concat([Buffer.from(json), data]));
    };
    if (state.hold) held.push(answer);
    else answer();
  });
  return Object.assign(peer, {
    state,
    release(): void {
      state.hold = false;
      const all = held;
      held = [];
      for (const a of all) a();
    },
  });
}
