// ModelInferRequest messages of requests that repeat their shape. A benchmark or a serving loop sends one
// model the same input names, datatypes and shapes call after call, so everything but the tensors' bytes
// is the same message prefix every time: it is encoded once (by the hand codec) and kept, and a repeat
// call's message is that prefix, the kept tag/length bytes of each raw entry and views of the tensors'
// bytes (copied once, into the request's buffer, by the HTTP/2 layer). A layout is used only while every
// field it encoded is equal to the request's: model, version, id, each input's name, datatype, shape and
// byte length. Requests with parameters, requested outputs or shared-memory inputs, and large ones,
// take the general codec.
import type { Tensor } from "../../tensor.ts";
import type { InferRequest } from "../transport.ts";
import { encodeInferRequest } from "./infer-codec.ts";
import { requestFieldBytes } from "./infer-wire.ts";

/** Models whose layouts are kept; the set is emptied when it would grow beyond. */
const MAX_LAYOUTS = 16;
/** Messages up to this size (the HTTP/2 layers' join limit less the 5-byte prefix): larger ones gain nothing. */
export const MAX_LAYOUT_MESSAGE = 16 * 1024 - 5;
/** raw_input_contents (field 7, length-delimited). */
const RAW_TAG = (7 << 3) | 2;

interface Layout {
  model: string;
  version: string;
  id: string;
  names: string[];
  datatypes: string[];
  shapes: number[][];
  rawLengths: number[];
  /** The fields before raw_input_contents plus the tag and length of the first raw entry. */
  head: Buffer;
  /** Tag and length of each further raw entry (index 0 unused). */
  rawHeads: Buffer[];
}

function tagAndLength(n: number): Buffer {
  const bytes = [RAW_TAG];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function makeLayout(req: InferRequest, raws: Uint8Array[]): Layout | undefined {
  const fields = requestFieldBytes(encodeInferRequest(req));
  if (fields === undefined) return undefined;
  const inputs = req.inputs;
  const rawHeads = raws.map((r) => tagAndLength(r.byteLength));
  return {
    model: req.model,
    version: req.version ?? "",
    id: req.id ?? "",
    names: inputs.map((t) => t.name),
    datatypes: inputs.map((t) => t.datatype),
    shapes: inputs.map((t) => t.shape.slice()),
    rawLengths: raws.map((r) => r.byteLength),
    head: raws.length > 0 ? Buffer.concat([fields, rawHeads[0]!]) : fields,
    rawHeads,
  };
}

/** The kept request layouts of one transport (one per model). */
export class InferRequestLayouts {
  readonly #layouts = new Map<string, Layout>();
  /** The layout used last (most calls repeat it: no map lookup). */
  #last: Layout | undefined;

  /**
   * The serialized ModelInferRequest of `req` as chunks (their concatenation is the message), from a kept
   * layout or one made now; undefined when this request takes the general codec.
   */
  message(req: InferRequest): Uint8Array[] | undefined {
    if (req.parameters !== undefined || req.outputs !== undefined) return undefined;
    let layout = this.#last;
    if (layout === undefined || layout.model !== req.model) layout = this.#layouts.get(req.model);
    if (layout !== undefined) {
      const chunks = this.#fill(layout, req);
      if (chunks !== undefined) {
        this.#last = layout;
        return chunks;
      }
    }
    return this.#remake(req);
  }

  /** The chunks of `req` by `layout`, or undefined when the layout does not encode exactly its fields. */
  #fill(layout: Layout, req: InferRequest): Uint8Array[] | undefined {
    const inputs = req.inputs;
    const n = inputs.length;
    if (layout.names.length !== n || layout.version !== (req.version ?? "") || layout.id !== (req.id ?? "")) return undefined;
    if (n === 0) return [layout.head];
    const chunks: Uint8Array[] = new Array(2 * n);
    for (let i = 0; i < n; i++) {
      const t: Tensor = inputs[i]!;
      if (t.sharedMemory !== undefined || t.name !== layout.names[i] || t.datatype !== layout.datatypes[i] || !sameShape(t.shape, layout.shapes[i]!)) return undefined;
      const raw = t.toRaw();
      if (raw.byteLength !== layout.rawLengths[i]) return undefined;
      chunks[2 * i] = i === 0 ? layout.head : layout.rawHeads[i]!;
      chunks[2 * i + 1] = raw;
    }
    return chunks;
  }

  /** A new layout for `req` (kept), and its chunks; undefined for requests the layouts do not cover. */
  #remake(req: InferRequest): Uint8Array[] | undefined {
    const inputs = req.inputs;
    const raws: Uint8Array[] = [];
    let total = 0;
    for (const t of inputs) {
      if (t.sharedMemory !== undefined) return undefined;
      const raw = t.toRaw();
      raws.push(raw);
      total += raw.byteLength;
    }
    if (total > MAX_LAYOUT_MESSAGE) return undefined;
    const layout = makeLayout(req, raws);
    if (layout === undefined || layout.head.byteLength + total + 6 * raws.length > MAX_LAYOUT_MESSAGE) return undefined;
    if (this.#layouts.size >= MAX_LAYOUTS && !this.#layouts.has(req.model)) this.#layouts.clear();
    this.#layouts.set(req.model, layout);
    this.#last = layout;
    return this.#fill(layout, req);
  }

  /** Models with a kept layout (tests). */
  get size(): number {
    return this.#layouts.size;
  }
}
