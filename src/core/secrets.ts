import { randomUUID } from "node:crypto";
import type { Sql } from "./db.js";
import { TestumError } from "./errors.js";
import type { SecretBox } from "./secret-box.js";

/** A credential as the worker needs it at the moment it connects. */
export type Credential =
  | { readonly type: "key"; readonly privateKey: string; readonly passphrase?: string | undefined }
  | { readonly type: "password"; readonly password: string };

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
  if (!row) throw new TestumError("secret_unreadable", `stored secret ${id} is missing`);
  return JSON.parse(box.open(id, row).toString("utf8")) as Credential;
}

export async function deleteSecret(sql: Sql, id: string): Promise<void> {
  await sql`delete from secrets where id = ${id}`;
}
