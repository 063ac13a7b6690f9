import { describe, expect, it } from "vitest";
import type { Host } from "./hosts.js";
import { globMatch, parseGlob, parseTarget, selectHosts } from "./targets.js";

const host = (name: string, tags: Record<string, string> = {}) => ({ name, tags }) as unknown as Host;
const hosts = [host("web-01", { role: "web", env: "prod" }), host("web-02", { role: "web", env: "dev" }), host("db-01", { role: "db", env: "prod" })];
const names = (text: string) => selectHosts(hosts, parseTarget(text), text).map((h) => h.name);

describe("targets", () => {
  it("selects by name, list, glob, tags and all", () => {
    expect(names("db-01")).toEqual(["db-01"]);
    expect(names("web-02,db-01")).toEqual(["db-01", "web-02"]);
    expect(names("web-*")).toEqual(["web-01", "web-02"]);
    expect(names("role=web")).toEqual(["web-01", "web-02"]);
    expect(names("role=web,env=prod")).toEqual(["web-01"]);
    expect(names("web-*,env=dev")).toEqual(["web-02"]);
    expect(names("all")).toEqual(["db-01", "web-01", "web-02"]);
    expect(names("web-0[1]")).toEqual(["web-01"]);
  });

  it("says what did not match", () => {
    expect(() => names("nope")).toThrow(/no host named nope/);
    expect(() => names("role=cache")).toThrow(/no hosts match "role=cache"/);
    expect(() => parseTarget("Bad Name")).toThrow(/not a host name/);
  });
});

describe("globs", () => {
  const match = (glob: string, name: string) => globMatch(parseGlob(glob), name);

  it("match as a shell would", () => {
    expect(match("web-*", "web-01")).toBe(true);
    expect(match("web-*", "db-01")).toBe(false);
    expect(match("*-0?", "db-01")).toBe(true);
    expect(match("*-0?", "db-011")).toBe(false);
    expect(match("web-0[1-3]", "web-02")).toBe(true);
    expect(match("web-0[!1-3]", "web-02")).toBe(false);
    expect(match("web-0[!1-3]", "web-05")).toBe(true);
    expect(match("a*b*c", "axxbyyc")).toBe(true);
    expect(match("a*b*c", "axxbyy")).toBe(false);
    expect(match("*", "")).toBe(true);
    expect(match("**x", "abx")).toBe(true);
  });

  it("say what is wrong with a bad one", () => {
    expect(() => parseTarget("[z-a]")).toThrow(/the range \[z-a\] in "\[z-a\]" runs backwards/);
    expect(() => parseTarget("web-[1")).toThrow(/unclosed \[/);
  });

  it("cost no more than name × glob steps, whatever the pattern", () => {
    // A backtracking regex takes combinatorially long on this one.
    const glob = parseGlob("*0*0*0*0*0*0*0*0*0*0*0*0*0*0*0*0*0*0*0*0*0*0*0*0*0*0*0*0*0*0*x");
    const name = "db-" + "0".repeat(60);
    expect(glob.length).toBe(62);
    expect(globMatch(glob, name)).toBe(false);
    expect(globMatch(glob, name + "x")).toBe(true);
  });
});
