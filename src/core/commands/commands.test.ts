import { describe, expect, it } from "vitest";
import { parseCommandOptions, parseCommandText } from "./commands.js";
import { UsageError } from "../errors.js";
import { tokenize } from "./tokenize.js";

describe("tokenize", () => {
  it("splits like a shell, honouring quotes and escapes", () => {
    expect(tokenize(`run prod-db 'df -h'`).map((t) => t.value)).toEqual(["run", "prod-db", "df -h"]);
    expect(tokenize(`a "b \\"c\\"" d\\ e`).map((t) => t.value)).toEqual(["a", 'b "c"', "d e"]);
    expect(tokenize("\u201cnice quotes\u201d \u2018single\u2019").map((t) => t.value)).toEqual(["nice quotes", "single"]);
  });

  it("rejects an unterminated quote", () => {
    expect(() => tokenize(`run h 'oops`)).toThrow(/unterminated quote/);
  });
});

describe("parseCommandText", () => {
  it("parses run with a quoted command", () => {
    expect(parseCommandText(`run prod-db 'df -h'`)).toEqual({ name: "run", target: "prod-db", command: "df -h", timeoutMs: undefined });
  });

  it("keeps an unquoted command verbatim, inner quoting included", () => {
    expect(parseCommandText(`run web1 echo "a  b" | wc -c`)).toMatchObject({ command: `echo "a  b" | wc -c` });
  });

  it("reads hosts add --via anywhere, tags around it included, and hosts via with or without a bastion", () => {
    const want = { name: "hosts.add", host: "db-1", address: "deploy@10.0.0.7", tags: ["role=db", "env=prod"], via: "bastion" };
    expect(parseCommandText(`hosts add db-1 deploy@10.0.0.7 role=db --via bastion env=prod`)).toEqual(want);
    expect(parseCommandText(`hosts add --via=bastion db-1 deploy@10.0.0.7 role=db env=prod`)).toEqual(want);
    expect(parseCommandText(`hosts add db-1 deploy@10.0.0.7`)).toEqual({ name: "hosts.add", host: "db-1", address: "deploy@10.0.0.7", tags: [], via: undefined });
    expect(parseCommandText(`hosts via db-1 bastion`)).toEqual({ name: "hosts.via", host: "db-1", bastion: "bastion" });
    expect(parseCommandText(`hosts via db-1`)).toEqual({ name: "hosts.via", host: "db-1", bastion: undefined });
  });

  it("reads options before the target", () => {
    expect(parseCommandText(`run --timeout 30s web1 'sleep 5'`)).toMatchObject({ timeoutMs: 30_000, command: "sleep 5" });
    expect(parseCommandText(`run --timeout=2m web1 uptime`)).toMatchObject({ timeoutMs: 120_000 });
  });

  it("treats -- words inside the command as part of the command", () => {
    expect(parseCommandText(`run web1 ls --all`)).toMatchObject({ command: "ls --all" });
  });

  it("maps a bare group to its default and an empty line to help", () => {
    expect(parseCommandText("hosts")).toEqual({ name: "hosts.list" });
    expect(parseCommandText("  ")).toEqual({ name: "help" });
    expect(parseCommandText("help run")).toEqual({ name: "help", topic: "run" });
  });

  it("explains every malformed input with usage", () => {
    const cases: Array<[string, RegExp]> = [
      ["run prod-db", /missing COMMAND/],
      ["run", /missing TARGET/],
      ["run --timeout soon h ls", /--timeout expects a duration/],
      ["run --frob h ls", /unknown option --frob/],
      ["hosts frob", /unknown subcommand "frob" of hosts/],
      ["launch rockets", /unknown command "launch"/],
      ["run --timeout 0s h ls", /--timeout expects a duration/],
    ];
    for (const [text, message] of cases) {
      const err = (() => {
        try {
          parseCommandText(text);
        } catch (e) {
          return e;
        }
      })();
      expect(err, text).toBeInstanceOf(UsageError);
      expect((err as Error).message, text).toMatch(message);
    }
  });
});

describe("parseCommandOptions", () => {
  it("turns typed options into the same command as text", () => {
    expect(parseCommandOptions(["run"], { target: "prod-db", command: "df -h" })).toEqual(parseCommandText(`run prod-db 'df -h'`));
    expect(parseCommandOptions(["run"], { target: "w", command: "x", timeout: "45s" })).toMatchObject({ timeoutMs: 45_000 });
    expect(parseCommandOptions(["hosts", "list"], {})).toEqual({ name: "hosts.list" });
  });

  it("refuses unknown commands and options", () => {
    expect(() => parseCommandOptions(["nope"], {})).toThrow(UsageError);
    expect(() => parseCommandOptions(["run"], { target: "a", command: "b", color: "red" })).toThrow(/unknown option "color"/);
    expect(() => parseCommandOptions(["run"], { target: "a" })).toThrow(/missing COMMAND/);
  });
});
