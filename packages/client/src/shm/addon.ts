// Loads the client's shared-memory addon (build/Release/iaas_shm.node, built from native/shm.cc by
// scripts/build-shm-addon.mjs). Only @iaas/client/shm needs it: the rest of the client never loads it.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { InferenceError } from "../errors.ts";

/** One mapping of a whole shared-memory object. */
export interface NativeMapping {
  /** External ArrayBuffer over the mapping. */
  readonly buffer: ArrayBuffer;
  readonly byteSize: number;
  /** Detaches `buffer` (every view becomes empty) and unmaps; idempotent. */
  unmap(): void;
}

export interface ShmAddon {
  /** shm_open(O_CREAT [| O_EXCL]) + ftruncate(byteSize) + mmap. Errors carry the errno name in `code` (EEXIST, EACCES, ...). */
  create(key: string, byteSize: number, exclusive: boolean): NativeMapping;
  /** Maps an existing object whole (ENOENT when there is none). */
  open(key: string): NativeMapping;
  /** shm_unlink: true when removed, false when there was no such object. */
  unlink(key: string): boolean;
}

// src/shm/addon.ts and dist/shm/addon.js are both two levels below the package root.
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Where the addon is loaded from: $IAAS_SHM_ADDON when set, else where scripts/build-shm-addon.mjs puts it. */
export const SHM_ADDON_PATH = process.env.IAAS_SHM_ADDON || join(PACKAGE_ROOT, "build", "Release", "iaas_shm.node");

const require = createRequire(import.meta.url);
let loaded: ShmAddon | undefined;
let failure: InferenceError | undefined;

const HOW_TO_BUILD =
  "build it with node packages/client/scripts/build-shm-addon.mjs (needs g++; ./iaas and ./run-tests build it on launch)";

/** The addon, loaded once; throws a "failed_precondition" InferenceError saying how to build it when it is missing. */
export function loadShmAddon(): ShmAddon {
  if (loaded) return loaded;
  if (failure) throw failure;
  if (!existsSync(SHM_ADDON_PATH)) {
    failure = new InferenceError(
      "failed_precondition",
      `system shared memory needs the native addon of @iaas/client, which is not built: ${SHM_ADDON_PATH} does not exist; ${HOW_TO_BUILD}`,
    );
    throw failure;
  }
  try {
    loaded = require(SHM_ADDON_PATH) as ShmAddon;
  } catch (err) {
    failure = new InferenceError(
      "failed_precondition",
      `could not load the shared-memory addon ${SHM_ADDON_PATH}: ${(err as Error).message}; re${HOW_TO_BUILD}`,
      { cause: err },
    );
    throw failure;
  }
  return loaded;
}

/** Whether the shared-memory helpers can work here (the addon is built and loads). */
export function isSharedMemoryAvailable(): boolean {
  try {
    loadShmAddon();
    return true;
  } catch {
    return false;
  }
}
