// The reason label of nv_inference_request_failure, as recent Triton reports it: REJECTED (the scheduler
// refused or dropped the request: queue full, queue timeout, model being unloaded), CANCELED, BACKEND (the
// model's execution failed) or OTHER (bad inputs, unknown outputs and other request errors).
import type { ServerError } from "../core/errors.ts";

export const FAILURE_REASONS = ["REJECTED", "CANCELED", "BACKEND", "OTHER"] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** `cause`: the error as thrown (the dynamic batcher's queue rejections carry `rejectReason`). */
export function failureReason(error: ServerError, cause?: unknown): FailureReason {
  if (error.status === "CANCELLED") return "CANCELED";
  if ((cause as { rejectReason?: unknown } | undefined)?.rejectReason !== undefined || error.status === "UNAVAILABLE") return "REJECTED";
  return error.status === "INTERNAL" ? "BACKEND" : "OTHER";
}
