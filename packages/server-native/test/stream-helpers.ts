// Helpers for the streaming tests: a raw ModelStreamInfer call that collects every message, the shipped
// configs of the streaming models, and request builders for repeat_int32 and simple_sequence.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_MODEL_REPOSITORY } from "../src/server.ts";
import type { GrpcTestClient } from "./helpers.ts";

export const shippedConfig = (name: string): string => readFileSync(join(DEFAULT_MODEL_REPOSITORY, name, "config.pbtxt"), "utf8");

export const i32 = (values: number[]): Buffer => Buffer.from(Int32Array.from(values).buffer);
export const u32 = (values: number[]): Buffer => Buffer.from(Uint32Array.from(values).buffer);

export interface StreamMessage {
  error_message: string;
  infer_response: {
    id: string;
    model_name: string;
    parameters: Record<string, { bool_param?: boolean }>;
    outputs: { name: string; datatype: string; shape: string[] }[];
    raw_output_contents: Buffer[];
  } | null;
}

export interface RawStream {
  call: any;
  messages: StreamMessage[];
  /** Resolves with the final status (code, details) once the call ended. */
  status: Promise<{ code: number; details: string }>;
  /** Resolves once `n` messages arrived. */
  waitFor(n: number): Promise<void>;
}

export function openStream(client: GrpcTestClient): RawStream {
  const call = client.raw.ModelStreamInfer();
  const messages: StreamMessage[] = [];
  const waiters: { n: number; resolve(): void }[] = [];
  call.on("data", (m: StreamMessage) => {
    messages.push(m);
    for (const w of waiters.filter((w) => messages.length >= w.n)) w.resolve();
  });
  call.on("error", () => {});
  const status = new Promise<{ code: number; details: string }>((resolve) => call.on("status", resolve));
  return {
    call,
    messages,
    status,
    waitFor: (n) => (messages.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
  };
}

export function repeatRequest(id: string, values: number[], delays: number[], wait: number, emptyFinal = true): object {
  return {
    model_name: "repeat_int32",
    id,
    parameters: emptyFinal ? { triton_enable_empty_final_response: { bool_param: true } } : {},
    inputs: [
      { name: "IN", datatype: "INT32", shape: [values.length] },
      { name: "DELAY", datatype: "UINT32", shape: [delays.length] },
      { name: "WAIT", datatype: "UINT32", shape: [1] },
    ],
    raw_input_contents: [i32(values), u32(delays), u32([wait])],
  };
}

/** One simple_sequence request (batch 1); `sequenceId` as the gRPC InferParameter to send. */
export function sequenceRequest(id: string, sequenceId: object, value: number, flags: { start?: boolean; end?: boolean } = {}, model = "simple_sequence"): object {
  const parameters: Record<string, object> = { sequence_id: sequenceId };
  if (flags.start !== undefined) parameters.sequence_start = { bool_param: flags.start };
  if (flags.end !== undefined) parameters.sequence_end = { bool_param: flags.end };
  return { model_name: model, id, parameters, inputs: [{ name: "INPUT", datatype: "INT32", shape: [1, 1] }], raw_input_contents: [i32([value])] };
}

export const finalFlag = (m: StreamMessage): boolean | undefined => m.infer_response?.parameters?.triton_final_response?.bool_param;

/** The INT32 / UINT32 value of a one-element raw output. */
export function scalarOutput(m: StreamMessage, name: string): number {
  const r = m.infer_response!;
  const i = r.outputs.findIndex((o) => o.name === name);
  if (i < 0) throw new Error(`no output ${name} in ${JSON.stringify(r.outputs)}`);
  const b = r.raw_output_contents[i]!;
  return r.outputs[i]!.datatype === "UINT32" ? b.readUInt32LE(0) : b.readInt32LE(0);
}
