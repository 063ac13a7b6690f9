#!/usr/bin/env node
// Entry point of the `testum` command. Runs the TypeScript sources through tsx,
// so `npx testum …` works straight after `npm ci`; the container image runs the
// compiled `dist/cli.js` instead.
import { register } from "tsx/esm/api";

register();
await import("../src/cli.ts");
