import { randomUUID } from "node:crypto";
import type { Sql } from "../db.js";
import { TestumError } from "../errors.js";
import { msg } from "../chat/i18n.js";
import type { Sealed, SecretBox } from "./secret-box.js";

/** A credential as the worker needs it at the moment it connects. */
export type Credential = { readonly type: "key"; readonly privateKey: string; readonly passphrase?: string | undefined } | { readonly type: "password"; readonly password: string };

/** Seals and stores a credential; returns its id. */
export async function storeSecret(sql: Sql, box: SecretBox, credential: Credential): Promise<string> {
  const id = randomUUID();
  const sealed = box.seal(id, Buffer.from(JSON.stringify(credential), "utf8"));
  await sql`insert into secrets (id, key_id, box) values (${id}, ${sealed.keyId}, ${sealed.box})`;
  return id;
}

/** Reads and opens a stored credential. Call it as late as possible, in the worker. */
export async function readSecret(sql: Sql, box: SecretBox, id: string): Promise<Credential> {
  const [row] = await sql<{ keyId: string; box: Buffer }[]>`select key_id, box from secrets where id = ${id}`;
  return openSecret(box, id, row);
}

/** Several stored credentials, still sealed, in one query (a job's hosts); open each with openSecret when it is needed. */
export async function readSealedSecrets(sql: Sql, ids: readonly string[]): Promise<Map<string, Sealed>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map();
  const rows = await sql<{ id: string; keyId: string; box: Buffer }[]>`select id, key_id, box from secrets where id in ${sql(unique)}`;
  return new Map(rows.map((r) => [r.id, { keyId: r.keyId, box: r.box }]));
}

/** Opens a sealed credential read with readSealedSecrets (undefined: it is not stored). */
export function openSecret(box: SecretBox, id: string, sealed: Sealed | undefined): Credential {
  if (!sealed) throw new TestumError("secret_unreadable", msg("secrets.missing", { id }));
  return JSON.parse(box.open(id, sealed).toString("utf8")) as Credential;
}

export async function deleteSecret(sql: Sql, id: string): Promise<void> {
  await sql`delete from secrets where id = ${id}`;
}

/**
 * Re-seals every stored secret under the current master key. Checks first
 * that every secret opens (with the current or previous key) and refuses to
 * start otherwise. Each secret is updated on its own, so an interrupted run
 * loses nothing and a second run finishes the job.
 */
export async function rotateSecrets(sql: Sql, box: SecretBox): Promise<{ rotated: number; alreadyCurrent: number }> {
  const rows = await sql<{ id: string; keyId: string; box: Buffer }[]>`select id, key_id, box from secrets order by id`;
  const unreadable: string[] = [];
  for (const row of rows) {
    try {
      box.open(row.id, row);
    } catch {
      unreadable.push(row.id);
    }
  }
  if (unreadable.length > 0) {
    throw new TestumError(
      "secret_unreadable",
      `${unreadable.length} stored secret(s) cannot be opened with TESTUM_MASTER_KEY or TESTUM_MASTER_KEY_PREVIOUS (${unreadable.slice(0, 5).join(", ")}${unreadable.length > 5 ? ", …" : ""}); nothing was changed`,
    );
  }
  let rotated = 0;
  for (const row of rows) {
    if (row.keyId === box.keyId) continue;
    const sealed = box.seal(row.id, box.open(row.id, row));
    const updated = await sql`
      update secrets set key_id = ${sealed.keyId}, box = ${sealed.box}, updated_at = now()
      where id = ${row.id} and key_id = ${row.keyId}`;
    rotated += updated.count;
  }
  return { rotated, alreadyCurrent: rows.length - rotated };
}
