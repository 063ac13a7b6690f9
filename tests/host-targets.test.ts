import { afterAll, beforeAll, describe, expect, it } from "vitest";
import postgres from "postgres";
import type { Sql } from "../src/core/db.js";
import { resolveTarget } from "../src/core/hosts/targets.js";
import { hostsStartingWith } from "../src/core/hosts/hosts.js";
import { createTestDatabase } from "./helpers/db.js";

// A target is resolved on the database's hosts as the chat commands resolve it: the same
// hosts as before, whatever kind of selector, while only the rows it can pick from are read.

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let sql: Sql;
/** Every statement sent on `sql`, as text. */
const sent: string[] = [];

const FLEET = [
  ["web-01", { role: "web", env: "prod" }],
  ["web-02", { role: "web", env: "dev" }],
  ["db-01", { role: "db", env: "prod", data_center: "eu-1" }],
  ["cache-01", {}],
  ["db_02", {}],
  ["dbx02", {}],
] as const;

beforeAll(async () => {
  db = await createTestDatabase();
  // As testum connects (camelCase columns), and telling every statement it sends.
  sql = postgres(db.url, {
    max: 1,
    onnotice: () => {},
    transform: { column: { from: postgres.toCamel, to: postgres.fromCamel } },
    debug: (_connection, query) => void sent.push(query),
  }) as unknown as Sql;
  const admin = postgres(db.url, { max: 1, onnotice: () => {} });
  for (const [name, tags] of FLEET) {
    await admin`insert into hosts (name, address, username, auth_method, tags, created_by)
                values (${name}, '127.0.0.1', 'ops', 'identity', ${admin.json(tags)}, 'test')`;
  }
  await admin.end();
});

afterAll(async () => {
  await sql?.end();
  await db?.drop();
});

async function resolved(target: string): Promise<{ names: string[]; statements: string[] }> {
  sent.length = 0;
  const hosts = await resolveTarget(sql, target);
  return { names: hosts.map((h) => h.name), statements: [...sent] };
}

describe("resolving a target on the database", () => {
  it("picks the same hosts for every kind of selector", async () => {
    expect((await resolved("db-01")).names).toEqual(["db-01"]);
    expect((await resolved("web-02,db-01")).names).toEqual(["db-01", "web-02"]);
    expect((await resolved("web-*")).names).toEqual(["web-01", "web-02"]);
    expect((await resolved("role=web")).names).toEqual(["web-01", "web-02"]);
    expect((await resolved("role=web,env=prod")).names).toEqual(["web-01"]);
    expect((await resolved("data_center=eu-1")).names).toEqual(["db-01"]);
    expect((await resolved("web-01,web-02,env=dev")).names).toEqual(["web-02"]);
    expect((await resolved("web-*,env=dev")).names).toEqual(["web-02"]);
    // In the order people read names (selectHosts sorts them so), not the database's byte order.
    expect((await resolved("all")).names).toEqual(["cache-01", "db_02", "db-01", "dbx02", "web-01", "web-02"]);
  });

  it("says what did not match, as before", async () => {
    await expect(resolveTarget(sql, "nope")).rejects.toThrow(/no host named nope/);
    await expect(resolveTarget(sql, "web-01,nope")).rejects.toThrow(/no host named nope/);
    await expect(resolveTarget(sql, "role=cache")).rejects.toThrow(/no hosts match "role=cache"/);
    await expect(resolveTarget(sql, "role=web,role=db")).rejects.toThrow(/no hosts match/);
    await expect(resolveTarget(sql, "db-01,env=dev")).rejects.toThrow(/no hosts match/);
  });

  it("reads only the named or tagged hosts, and every host only for globs and all", async () => {
    const everyHost = (statements: string[]) => statements.some((s) => /from hosts\s+order by/i.test(s));
    for (const target of ["db-01", "web-02,db-01", "web-01,env=prod", "role=web", "role=web,env=prod"]) {
      const { statements } = await resolved(target);
      expect(statements, target).toHaveLength(1);
      expect(everyHost(statements), target).toBe(false);
    }
    expect(everyHost((await resolved("web-*")).statements)).toBe(true);
    expect(everyHost((await resolved("all")).statements)).toBe(true);
  });

  it("suggests names by their beginning, taken literally (an underscore is no wildcard)", async () => {
    const names = async (prefix: string) => (await hostsStartingWith(sql, prefix)).map((h) => h.name);
    expect(await names("db")).toEqual(["db-01", "db_02", "dbx02"]);
    expect(await names("db_")).toEqual(["db_02"]);
    expect(await names("web-0")).toEqual(["web-01", "web-02"]);
    expect(await names("")).toHaveLength(FLEET.length);
    expect(await names("zzz")).toEqual([]);
  });
});
