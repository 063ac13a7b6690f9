import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { TestumError } from "../errors.js";
import { english } from "../chat/i18n.js";
import { parseParamWords, parseTemplate, renderTemplate, shellQuote } from "./runbook-template.js";

const said = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof TestumError) return err.say(english);
    throw err;
  }
  throw new Error("did not throw");
};

/** What `sh -c` prints for `printf '%s\n' WORD`: the word as the shell reads it. */
function shellReads(word: string): string {
  return execFileSync("sh", ["-c", `printf '%s' ${word}`], { encoding: "utf8" });
}

describe("runbook templates", () => {
  it("reads typed parameters, each once, in order", () => {
    const t = parseTemplate("journalctl -u {service:enum(nginx,postgres)} -n {lines:int(1..1000)} --file {log:path} {note} {service}");
    expect(t.params).toEqual([
      { name: "service", type: { kind: "enum", values: ["nginx", "postgres"] } },
      { name: "lines", type: { kind: "int", min: 1, max: 1000 } },
      { name: "log", type: { kind: "path" } },
      { name: "note", type: { kind: "str" } },
    ]);
  });

  it("leaves the shell's own braces alone: ${VAR}, find's {}, brace lists and single-quoted awk", () => {
    const t = parseTemplate("find ${HOME} -name x -exec ls {} \\; ; echo {a,b}; awk '{print $1}' /etc/hosts");
    expect(t.params).toEqual([]);
    expect(renderTemplate("x", t, {})).toBe("find ${HOME} -name x -exec ls {} \\; ; echo {a,b}; awk '{print $1}' /etc/hosts");
  });

  it("refuses parameters inside quotes, in arithmetic (unless int) and with heredocs", () => {
    expect(said(() => parseTemplate('echo "{msg}"'))).toMatch(/parameter msg stands inside quotes/);
    expect(said(() => parseTemplate("grep '{pattern:str}' /var/log/syslog"))).toMatch(/parameter pattern stands inside quotes/);
    expect(said(() => parseTemplate("echo {msg}; echo '{msg}'"))).toMatch(/parameter msg stands inside quotes/);
    expect(said(() => parseTemplate("echo $(( {n} + 1 ))"))).toMatch(/parameter n stands inside \(\( \)\) arithmetic/);
    expect(parseTemplate("echo $(( {n:int(1..9)} + 1 ))").params).toHaveLength(1);
    expect(said(() => parseTemplate("cat <<EOF\n{msg}\nEOF"))).toMatch(/heredoc/);
  });

  it("names what is wrong with a type", () => {
    expect(said(() => parseTemplate("tail {file:file}"))).toBe('parameter file: "file" is not a type; use str, path, int, int(MIN..MAX) or enum(a,b,c)');
    expect(said(() => parseTemplate("x {n:int(9..1)}"))).toMatch(/lower bound is above the upper one/);
    expect(said(() => parseTemplate("x {s:enum(a b,c)}"))).toMatch(/not a list of choices/);
    expect(said(() => parseTemplate("x {s:enum(a,b)} {s:enum(a,c)}"))).toBe("parameter s is given two types: enum(a,b) and enum(a,c)");
    expect(said(() => parseTemplate("echo 'unclosed {x}"))).toMatch(/quote that is never closed/);
  });

  it("validates values and says which parameter, what was given and what is expected", () => {
    const t = parseTemplate("journalctl -u {service:enum(nginx,postgres)} -n {lines:int(1..1000)} {file:path}");
    const ok = { service: "nginx", lines: "100", file: "/var/log/syslog" };
    expect(renderTemplate("logs", t, ok)).toBe("journalctl -u nginx -n 100 /var/log/syslog");
    expect(said(() => renderTemplate("logs", t, { ...ok, service: "mysql" }))).toBe(
      'runbook logs: parameter service got "mysql", expected one of nginx, postgres. Nothing was run.',
    );
    expect(said(() => renderTemplate("logs", t, { ...ok, lines: "5000" }))).toBe(
      'runbook logs: parameter lines got "5000", expected a whole number from 1 to 1000. Nothing was run.',
    );
    expect(said(() => renderTemplate("logs", t, { ...ok, lines: "1e3" }))).toMatch(/parameter lines got "1e3"/);
    expect(said(() => renderTemplate("logs", t, { ...ok, file: "../../etc/shadow" }))).toMatch(/parameter file got "..\/..\/etc\/shadow", expected a path/);
    expect(said(() => renderTemplate("logs", t, { ...ok, file: "--help" }))).toMatch(/parameter file got "--help"/);
    expect(said(() => renderTemplate("logs", t, { service: "nginx", lines: "1" }))).toBe(
      "runbook logs: parameter file is missing (expected a path of letters, digits and / . _ - + @ : , = ~ that does not start with - and has no .. part); it takes: service (enum(nginx,postgres)), lines (int(1..1000)), file (path). Nothing was run.",
    );
    expect(said(() => renderTemplate("logs", t, { ...ok, user: "root" }))).toMatch(/runbook logs has no parameter user; it takes: service/);
  });

  it("quotes every value as one shell word that the shell reads back exactly", () => {
    const nasty = ["; rm -rf /", "$(touch /tmp/x)", "`id`", "a\nb", "it's", '"quoted"', "*", "~root", "a b", "", "x=y", "\\", "'$(id)'", "${IFS}"];
    for (const value of nasty) {
      const word = shellQuote(value);
      expect(shellReads(word), JSON.stringify(value)).toBe(value);
    }
    expect(shellQuote("nginx")).toBe("nginx");
    expect(shellQuote("/var/log/syslog")).toBe("/var/log/syslog");
  });

  it("reads key=value words", () => {
    expect(parseParamWords(["service=nginx", "msg=a=b", "empty="])).toEqual({ service: "nginx", msg: "a=b", empty: "" });
    expect(said(() => parseParamWords(["nginx"]))).toBe('"nginx" is not a parameter: write key=value, e.g. service=nginx');
    expect(said(() => parseParamWords(["a=1", "a=2"]))).toBe("parameter a is given twice");
  });
});
