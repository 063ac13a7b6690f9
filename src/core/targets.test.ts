import { describe, expect, it } from "vitest";
import type { Host } from "./hosts.js";
import { parseTarget, selectHosts } from "./targets.js";

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
