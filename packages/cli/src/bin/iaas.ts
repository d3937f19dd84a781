#!/usr/bin/env node
import { main } from "../cli.ts";

const code = await main();
process.exitCode = code;
// A transport that keeps a handle open after close() must not keep a finished command from exiting.
setTimeout(() => process.exit(code), 1000).unref();
