// Loads the compiled addon (build/Release/iaas_native.node) and types it with the contract in types.ts.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { BackendInfo, NativeAddon } from "./types.ts";

// This file runs as src/native/addon.ts (tests) or dist/native/addon.js: both two levels below the package.
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Where the build script puts the addon by default. */
export const DEFAULT_ADDON_PATH = join(PACKAGE_ROOT, "build", "Release", "iaas_native.node");

const require = createRequire(import.meta.url);
const loaded = new Map<string, NativeAddon>();

/**
 * Loads (once per path) the native addon. `path` defaults to build/Release/iaas_native.node in this package;
 * tests pass another build's output. Throws an Error saying how to build it when the file is missing.
 */
export function loadNativeAddon(path: string = DEFAULT_ADDON_PATH): NativeAddon {
  const absolute = resolve(path);
  const cached = loaded.get(absolute);
  if (cached) return cached;
  if (!existsSync(absolute)) {
    throw new Error(
      `the native addon is not built: ${absolute} does not exist. Build it with ./iaas (which builds on launch) ` +
        "or node packages/server-native/scripts/build-addon.mjs",
    );
  }
  let addon: NativeAddon;
  try {
    addon = require(absolute) as NativeAddon;
  } catch (err) {
    throw new Error(
      `could not load the native addon ${absolute}: ${(err as Error).message}. Rebuild it with ` +
        "node packages/server-native/scripts/build-addon.mjs",
      { cause: err },
    );
  }
  loaded.set(absolute, addon);
  return addon;
}

/** What the default addon was built with and which backends are usable on this machine. */
export function backendInfo(): BackendInfo {
  return loadNativeAddon().backendInfo();
}
