// client.sequence(): the requests of one sequence of a stateful model, sent one at a time in call
// order (so they reach the server in order over any transport), START on the first request that
// succeeds, END on end(). Over a stream the requests go out with stream.send and the sequence waits for
// each request's responses.
import { getRandomValues } from "node:crypto";
import type { InferOptions, InferResult } from "../api.ts";
import { InferenceError } from "../errors.ts";
import { checkSequenceId, type SequenceId } from "../sequence-parameters.ts";
import type { Tensor } from "../tensor.ts";
import type { InferSequence, InferStream, SequenceInferOptions } from "./types.ts";

type Run = (inputs: Tensor[], options: InferOptions) => Promise<InferResult>;

/** A random id in [1, 2^53): unlikely to collide with other clients' sequences. */
export function randomSequenceId(): number {
  const [hi, lo] = getRandomValues(new Uint32Array(2)) as unknown as [number, number];
  return (hi & 0x1fffff) * 2 ** 32 + lo || 1;
}

/** Sends one request on `stream` and resolves with its last non-empty result. */
export function runOnStream(stream: InferStream, model: string): Run {
  return async (inputs, options) => {
    const id = stream.send(model, inputs, options);
    let last: InferResult | undefined;
    for await (const result of stream.responses(id)) last = result;
    if (last === undefined) throw new InferenceError("internal", `sequence: request '${id}' to model '${model}' completed without a response`);
    return last;
  };
}

export class InferSequenceImpl implements InferSequence {
  readonly model: string;
  readonly id: SequenceId;
  readonly #run: Run;
  #started = false;
  #ended = false;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(model: string, id: SequenceId | undefined, run: Run) {
    this.model = model;
    this.id = id === undefined ? randomSequenceId() : checkSequenceId("sequence", id);
    this.#run = run;
  }

  get ended(): boolean {
    return this.#ended;
  }

  infer(inputs: Tensor[], options?: SequenceInferOptions): Promise<InferResult> {
    return this.#enqueue(inputs, options, false);
  }

  end(inputs: Tensor[], options?: SequenceInferOptions): Promise<InferResult> {
    return this.#enqueue(inputs, options, true);
  }

  #enqueue(inputs: Tensor[], options: SequenceInferOptions | undefined, end: boolean): Promise<InferResult> {
    if (this.#ended)
      return Promise.reject(new InferenceError("failed_precondition", `sequence ${String(this.id)} of model '${this.model}' has ended; start another with client.sequence()`));
    if (end) this.#ended = true;
    const send = async (): Promise<InferResult> => {
      const result = await this.#run(inputs, { ...options, sequenceId: this.id, sequenceStart: !this.#started, sequenceEnd: end });
      this.#started = true;
      return result;
    };
    const result = this.#tail.then(send, send);
    this.#tail = result.catch(() => {});
    return result;
  }
}
