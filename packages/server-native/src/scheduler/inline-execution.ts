// Which native instances run small executions inline, on the JS thread, instead of handing them to their
// own thread and back (native/instance_core.h). For a copy-sized kernel the hand-off (two thread wake-ups
// and a thread-safe function call) costs far more than the kernel: on the 2-core benchmark VM 25-37 us of
// main-thread CPU per execution against 3.5-6.5 us inline (bench/README.md). An inline execution happens
// only while the instance has nothing queued or running, so executions of one instance still never
// overlap and queued work keeps its order.
//
// Default: CPU instances of the copy and add_sub_i32 kernels (identity, simple, simple_string models) run
// executions whose inputs total at most DEFAULT_INLINE_MAX_BYTES inline. A model overrides the limit with
// the config parameter `execute_inline_max_bytes` (bytes; "0" turns inline execution off). Instances of
// other kernels (dense_mlp) and GPU instances never run inline, whatever the parameter says.
import type { DeviceKind, KernelName } from "../native/types.ts";
import { configError, type Locator } from "../repository/config-decode.ts";
import type { ModelConfig } from "../repository/model-config.ts";

export const INLINE_EXECUTION_PARAMETER = "execute_inline_max_bytes";
/** 16 KiB: a copy of that size takes about a microsecond, well below one thread hand-off. */
export const DEFAULT_INLINE_MAX_BYTES = 16 * 1024;
/** The addon's upper bound (an inline execution holds the JS thread). */
export const MAX_INLINE_MAX_BYTES = 16 * 1024 * 1024;

const INLINE_KERNELS: readonly KernelName[] = ["copy", "add_sub_i32"];

/** The model's inline limit from its config (validated), before looking at kernel and device. */
export function configuredInlineMaxBytes(config: ModelConfig, at: Locator): number {
  const text = config.parameters[INLINE_EXECUTION_PARAMETER]?.string_value;
  if (text === undefined) return DEFAULT_INLINE_MAX_BYTES;
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value > MAX_INLINE_MAX_BYTES)
    throw configError(
      at.at(`parameters["${INLINE_EXECUTION_PARAMETER}"]`),
      `parameter '${INLINE_EXECUTION_PARAMETER}' must be an integer number of bytes in 0..${MAX_INLINE_MAX_BYTES} (0 turns inline execution off), got "${text}"`,
    );
  return value;
}

/** The createInstance option `inlineMaxBytes` for one instance: 0 where inline execution does not apply. */
export function instanceInlineMaxBytes(configured: number, kernel: KernelName, device: DeviceKind): number {
  return device === "cpu" && INLINE_KERNELS.includes(kernel) ? configured : 0;
}
