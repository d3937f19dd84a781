// The error a call ends with after several attempts: the last attempt's, saying how many were made.
import { InferenceError } from "../errors.ts";

/** `error` with the attempt count in `attempts` and in its message; unchanged when there was one attempt. */
export function withAttempts(error: InferenceError, attempts: number, note?: string): InferenceError {
  if (attempts <= 1 && note === undefined) return error;
  const tries = attempts === 1 ? "1 attempt" : `${attempts} attempts`;
  return new InferenceError(error.code, `${error.message} (gave up after ${tries}${note ? `; ${note}` : ""})`, {
    httpStatus: error.httpStatus,
    grpcCode: error.grpcCode,
    cause: error.cause ?? error,
    attempts,
  });
}
