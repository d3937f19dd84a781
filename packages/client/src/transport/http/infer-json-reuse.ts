// Reusing an infer request's JSON header. A caller sends one model the same kind of request again and
// again (same input names, datatypes and shapes, no id, parameters or requested outputs of its own): the
// JSON header text is then the same every time, so it is kept per model and reused while a request
// matches it, instead of building and stringifying a header object per request. With it is kept the
// request's whole prefix as bytes (request head with Content-Length, then the JSON header), written with
// one copy instead of two string encodes. Requests in flight (and those queued for a connection) share them.
import type { InferRequest } from "../transport.ts";
import { encodeInferParts, type InferParts } from "./infer-codec.ts";

interface KeptInput {
  name: string;
  datatype: string;
  shape: number[];
  byteLength: number;
}

/** What encode gives: the parts, the JSON header's byte length, and for a reused binary header the prefix. */
export interface EncodedParts extends InferParts {
  jsonBytes: number;
  /**
   * For a request whose header was reused and that has binary data: `binaryHead`, the JSON header's
   * length, Content-Length and the blank line, then the JSON header, as bytes (shared, never modified).
   */
  prefix: Buffer | undefined;
}

/** The last reusable JSON header of one model (version) and what it was made of. */
export class InferJsonReuse {
  /** The model's request head up to the Inference-Header-Content-Length value (transport.ts). */
  readonly #binaryHead: string;
  #inputs: KeptInput[] | undefined = undefined;
  #binaryOutputs = false;
  #json = "";
  #jsonBytes = 0;
  #prefix: Buffer | undefined = undefined;

  constructor(binaryHead: string) {
    this.#binaryHead = binaryHead;
  }

  /** The request's parts (as encodeInferParts), the JSON header's byte length and a reused prefix. */
  encode(req: InferRequest): EncodedParts {
    if (!reusable(req)) {
      const parts = encodeInferParts(req);
      return { ...parts, jsonBytes: Buffer.byteLength(parts.json), prefix: undefined };
    }
    const inputs = req.inputs;
    const kept = this.#inputs;
    const data: ArrayBufferView[] = new Array(inputs.length);
    let dataBytes = 0;
    let same = kept !== undefined && kept.length === inputs.length && this.#binaryOutputs === req.binaryOutputs;
    for (let i = 0; i < inputs.length; i++) {
      const t = inputs[i]!;
      const raw: ArrayBufferView = t.datatype === "BYTES" ? t.toRaw() : (t.data as ArrayBufferView);
      data[i] = raw;
      dataBytes += raw.byteLength;
      if (same) {
        const k = kept![i]!;
        same = k.name === t.name && k.datatype === t.datatype && k.byteLength === raw.byteLength && sameShape(k.shape, t.shape);
      }
    }
    if (same) return { json: this.#json, jsonBytes: this.#jsonBytes, data, dataBytes, binary: data.length > 0, prefix: this.#prefix };
    const parts = encodeInferParts(req);
    const jsonBytes = Buffer.byteLength(parts.json);
    this.#inputs = inputs.map((t, i) => ({ name: t.name, datatype: t.datatype, shape: t.shape.slice(), byteLength: data[i]!.byteLength }));
    this.#binaryOutputs = req.binaryOutputs;
    this.#json = parts.json;
    this.#jsonBytes = jsonBytes;
    // Same inputs' byte sizes, same JSON: the Content-Length is the same for every request that matches.
    const head = `${this.#binaryHead}${jsonBytes}\r\ncontent-length: ${jsonBytes + dataBytes}\r\n\r\n`;
    this.#prefix = parts.binary ? Buffer.concat([Buffer.from(head, "latin1"), Buffer.from(parts.json, "utf8")]) : undefined;
    return { ...parts, jsonBytes, prefix: undefined };
  }
}

/**
 * Whether the header depends on nothing but the inputs' names, datatypes, shapes and byte sizes and the
 * binaryOutputs flag: binary inputs with data in the request, no id, no parameters, no requested outputs.
 */
function reusable(req: InferRequest): boolean {
  if (!req.binaryInputs || req.outputs !== undefined || (req.id !== undefined && req.id !== "")) return false;
  const p = req.parameters;
  if (p !== undefined) for (const _ in p) return false;
  const inputs = req.inputs;
  for (let i = 0; i < inputs.length; i++) if (inputs[i]!.sharedMemory !== undefined) return false;
  return true;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
