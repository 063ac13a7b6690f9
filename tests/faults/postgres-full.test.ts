import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { errorView } from "../../src/core/chat/replies.js";
import { connect } from "../../src/core/db.js";
import { english } from "../../src/core/chat/i18n.js";
import { databaseUrl, PG_BASE } from "../helpers/db.js";

// Postgres refusing a connection because it has none to spare (its
// max_connections, or a role's connection limit: SQLSTATE 53300) is the
// database being unavailable, not a bug: the person hears that nothing was
// done and to try again, not "internal error".

const role = `testum_full_${randomBytes(4).toString("hex")}`;
const admin = postgres(databaseUrl("postgres"), { max: 1, onnotice: () => {} });

afterAll(async () => {
  await admin.unsafe(`drop role if exists ${role}`);
  await admin.end();
});

describe("Postgres with no connection to spare", () => {
  it("is answered as the database being unavailable", async () => {
    await admin.unsafe(`create role ${role} login connection limit 0`);
    const sql = connect(`${PG_BASE.replace("postgres@", `${role}@`)}/postgres`, { max: 1 });
    const err = await sql`select 1`.then(
      () => undefined,
      (e: unknown) => e,
    );
    await sql.end({ timeout: 1 });
    expect((err as { code?: string }).code).toBe("53300");
    const logged: unknown[] = [];
    const log = { info() {}, debug() {}, warn: (...args: unknown[]) => logged.push(args), error: (...args: unknown[]) => logged.push(["error", ...args]) };
    const view = errorView(err, log as never, english);
    expect(view.text).toBe(english("error.database_unavailable"));
    expect(view.tone).toBe("warning");
    expect(logged.some((entry) => (entry as unknown[])[0] === "error")).toBe(false);
  });
});
