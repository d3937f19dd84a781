// Decoding binary infer answers whose JSON header repeats. A server answers one model and one set of
// shapes with the same header bytes every time, so the header's parse and checks are done once: while
// the header text is one seen before, the outputs are cut from the binary section by the kept layout.
// Only answers with every output binary and no id or parameters of their own are kept (those fields
// would be shared between answers, and ids make every header different anyway).
import type { InferResponse, OutputRequest } from "../transport.ts";
import { Tensor } from "../../tensor.ts";
import { decodeInferResponse, type LayoutSink, type ResponseLayout } from "./infer-codec.ts";

/** Distinct headers kept (models x shapes in use); the set is emptied when it would grow beyond. */
const MAX_LAYOUTS = 32;

export class InferHeaderCache implements LayoutSink {
  readonly #layouts = new Map<string, ResponseLayout>();
  /** The header bytes and layout of the last answer decoded from a kept layout. */
  #last: { bytes: Buffer; layout: ResponseLayout } | undefined = undefined;
  /** Written by decodeInferResponse for the header it parsed. */
  layout: ResponseLayout | undefined = undefined;

  /** As decodeInferResponse (same results, same errors), reusing the parse of a header seen before. */
  decode(body: Buffer, headerLength: number | undefined, requestedOutputs: readonly OutputRequest[] | undefined): InferResponse {
    if (headerLength === undefined || !Number.isSafeInteger(headerLength) || headerLength < 0 || headerLength > body.byteLength || hasRegions(requestedOutputs))
      return decodeInferResponse(body, headerLength, requestedOutputs);
    // The header of the last answer decoded from a layout, compared as bytes: no string per answer.
    const last = this.#last;
    if (last !== undefined && last.bytes.byteLength === headerLength && body.byteLength >= last.layout.end && last.bytes.compare(body, 0, headerLength) === 0)
      return fromLayout(last.layout, body, headerLength);
    const text = body.toString("utf8", 0, headerLength);
    const known = this.#layouts.get(text);
    if (known !== undefined && body.byteLength >= known.end) {
      this.#last = { bytes: Buffer.from(body.subarray(0, headerLength)), layout: known };
      return fromLayout(known, body, headerLength);
    }
    this.layout = undefined;
    const response = decodeInferResponse(body, headerLength, requestedOutputs, this, text);
    const layout = this.layout;
    if (layout !== undefined) {
      this.layout = undefined;
      if (this.#layouts.size >= MAX_LAYOUTS) {
        this.#layouts.clear();
        this.#last = undefined;
      }
      this.#layouts.set(text, layout);
      this.#last = { bytes: Buffer.from(body.subarray(0, headerLength)), layout };
    }
    return response;
  }

  /** Distinct headers kept now (tests). */
  get size(): number {
    return this.#layouts.size;
  }
}

function hasRegions(outputs: readonly OutputRequest[] | undefined): boolean {
  if (outputs !== undefined) for (let i = 0; i < outputs.length; i++) if (outputs[i]!.sharedMemory !== undefined) return true;
  return false;
}

function fromLayout(layout: ResponseLayout, body: Buffer, headerLength: number): InferResponse {
  const specs = layout.outputs;
  const outputs: Tensor[] = new Array(specs.length);
  let offset = headerLength;
  for (let i = 0; i < specs.length; i++) {
    const o = specs[i]!;
    // Shapes are copied: each answer's tensors own theirs, as when the header is parsed.
    outputs[i] = Tensor.fromRaw(o.name, o.datatype, o.shape.slice(), body.subarray(offset, offset + o.byteSize));
    offset += o.byteSize;
  }
  return { modelName: layout.modelName, modelVersion: layout.modelVersion, id: "", parameters: {}, outputs };
}
