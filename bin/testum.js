#!/usr/bin/env node
// Entry point of the `testum` command.
// - In a checkout with its development dependencies (src/ and tsx present), it
//   runs the TypeScript sources, so `npm start` and `npx testum …` work straight
//   after `npm ci` and never run a stale build.
// - Otherwise (the container image, `npm ci --omit=dev`) it runs the compiled
//   dist/cli.js that `npm run build` writes.
import { existsSync } from "node:fs";

const root = new URL("../", import.meta.url);
const tsx = existsSync(new URL("src/cli.ts", root)) ? await import("tsx/esm/api").catch(() => undefined) : undefined;

if (tsx) {
  tsx.register();
  await import("../src/cli.ts");
} else if (existsSync(new URL("dist/cli.js", root))) {
  await import("../dist/cli.js");
} else {
  console.error("testum: dist/cli.js is missing: run `npm run build` (or `npm ci` with development dependencies to run the sources)");
  process.exitCode = 1;
}
