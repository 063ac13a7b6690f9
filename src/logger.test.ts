import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

describe("the log", () => {
  it("redacts secret fields at any depth, also inside an error's causes", () => {
    const lines: string[] = [];
    const log = createLogger("info", { destination: { write: (line: string) => void lines.push(line) } });
    const inner = Object.assign(new Error("auth failed"), { config: { password: "hunter2-inner", nested: { privateKey: "key-material-123" } } });
    const err = new Error("connect failed", { cause: inner });
    log.error({ err, options: { a: { b: { c: { token: "tok-deep" } } } }, host: { auth: { passphrase: "pp-secret" } } }, "boom");
    const text = lines.join("");
    for (const secret of ["hunter2-inner", "key-material-123", "tok-deep", "pp-secret"]) expect(text).not.toContain(secret);
    const entry = JSON.parse(text) as { err: { type: string; message: string } };
    expect(entry.err.type).toBe("Error");
    expect(entry.err.message).toBe("connect failed: auth failed");
  });

  it("masks link tokens wherever they appear: in the message, in fields, in errors", () => {
    const lines: string[] = [];
    const log = createLogger("debug", { destination: { write: (line: string) => void lines.push(line) } });
    const token = "eE-gv0c8TyBKj_-2UfemiA07dKZFkn56";
    log.debug({ source: "slack" }, `http request body: {"text":"<https://ops.example/logs/${token}/web-1|log> <https://ops.example/jobs/17/${token}|page>"}`);
    log.warn({ url: `/reports/${token}`, nested: { links: [`/jobs/17?t=${token}`] } }, "link");
    log.error({ err: new Error(`could not post https://ops.example/logs/${token}`) }, "post failed");
    const text = lines.join("");
    expect(text).not.toContain(token);
    expect(text).toContain("/logs/***/web-1");
    expect(text).toContain("/jobs/17/***");
    expect(text).toContain("/reports/***");
    expect(text).toContain("?t=***");
  });
});
