// Set-up shared by the HTTP queue tests: a client on one connection to the holding echo peer, kept busy
// by a held request so that every call a test makes waits in the client's queue, and full GCs between
// turns to see what the queue lets go of.
import v8 from "node:v8";
import vm from "node:vm";
import { createClient, type InferenceClient, type InferResult, type Tensor } from "../../src/index.ts";
import type { holdingEchoPeer } from "./holding-echo-peer.ts";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

type HoldingEchoPeer = Awaited<ReturnType<typeof holdingEchoPeer>>;

export async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Lets released objects be collected (full GCs between turns). */
export async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
}

/**
 * Runs `body` with a client on one connection to `peer`. `warm` runs first (repeating a request warms its
 * model's reused header, so a repeated request is the one queued compactly); then `first` is sent to "echo"
 * and held by the peer: every call the body makes waits in the client's queue until it releases the peer.
 */
export async function withBusyConnection(
  peer: HoldingEchoPeer,
  warm: (client: InferenceClient) => Promise<void>,
  first: Tensor,
  body: (client: InferenceClient, first: Promise<InferResult>) => Promise<void>,
): Promise<void> {
  const client = createClient({ url: peer.url, protocol: "http", connections: 1, retry: false });
  try {
    await warm(client);
    peer.seen.length = 0;
    peer.state.hold = true;
    const held = client.infer("echo", [first]);
    await until(() => peer.seen.length === 1, "the first request");
    await body(client, held);
  } finally {
    peer.release();
    await client.close();
  }
}
