// How the HTTP/2 paths' ModelInfer calls end: the answer decoded where the call settles (kept answer
// layouts, infer-answer-layout.ts), and with an InferEnd from the layers above (transport.ts) their
// result made there too, failures mapped by it exactly once: one promise per call in all, no `.then` per
// layer. Decoders of calls without requested outputs are made once (per InferEnd), not per call.
import type { InferEnd, InferResponse, OutputRequest } from "../transport.ts";
import { InferAnswerLayouts } from "./infer-answer-layout.ts";
import type { AnswerDecoder } from "./h2/unary-client.ts";

type Outputs = readonly OutputRequest[] | undefined;

interface EndedContext {
  answers: InferAnswerLayouts;
  outputs: Outputs;
  end: InferEnd<unknown>;
}

function decodeEnded(bytes: Buffer, context: unknown): unknown {
  const c = context as EndedContext;
  let response: InferResponse;
  try {
    response = c.answers.decode(bytes, c.outputs);
  } catch (e) {
    throw c.end.failed(e);
  }
  return c.end.done(response);
}

function failEnded(error: unknown, context: unknown): unknown {
  return (context as EndedContext).end.failed(error);
}

/** InferEnds whose shared decoders are kept; the layers above pass one per client. */
const MAX_ENDS = 16;

export class InferAnswerDecoders {
  readonly #answers = new InferAnswerLayouts();
  readonly #decode: (bytes: Buffer, outputs: unknown) => InferResponse;
  readonly #plain: AnswerDecoder<InferResponse>;
  readonly #ended = new Map<InferEnd<unknown>, AnswerDecoder<unknown>>();

  constructor() {
    const answers = this.#answers;
    this.#decode = (bytes, outputs) => answers.decode(bytes, outputs as Outputs);
    this.#plain = { decode: this.#decode };
  }

  /** The decoder of a call that requested `outputs` (undefined: all): the InferResponse. */
  plain(outputs: Outputs): AnswerDecoder<InferResponse> {
    return outputs === undefined ? this.#plain : { decode: this.#decode, context: outputs };
  }

  /** The decoder of a call ended by `end`: end.done(response), every failure through end.failed. */
  ended<T>(outputs: Outputs, end: InferEnd<T>): AnswerDecoder<T> {
    if (outputs !== undefined) return { decode: decodeEnded, context: { answers: this.#answers, outputs, end }, failed: failEnded } as AnswerDecoder<T>;
    let decoder = this.#ended.get(end);
    if (decoder === undefined) {
      decoder = { decode: decodeEnded, context: { answers: this.#answers, outputs: undefined, end }, failed: failEnded };
      if (this.#ended.size >= MAX_ENDS) this.#ended.clear();
      this.#ended.set(end, decoder);
    }
    return decoder as AnswerDecoder<T>;
  }
}
