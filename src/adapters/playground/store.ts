import type { View } from "../../core/chat/chat.js";
import type { Sql } from "../../core/db.js";
import { TestumError } from "../../core/errors.js";

/**
 * The playground's messages, kept in PostgreSQL so web and worker processes
 * share them; every change is announced with NOTIFY for the pages to update.
 */
export interface PlaygroundMessage {
  readonly id: number;
  readonly conversation: string;
  readonly thread: number | null;
  readonly privateTo: string | null;
  readonly view: View;
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** Who wrote a message: the person, for the echo of their command; null for testum's own. */
export function authorOf(message: PlaygroundMessage): string | null {
  const author = (message.view as View & { author?: unknown }).author;
  return typeof author === "string" ? author : null;
}

export const CHANGES = "testum_playground";

/** The one conversation of the playground: `local:general`. */
export const CONVERSATION = "local:general";

export function messageRef(id: number): string {
  return `${CONVERSATION}:${id}`;
}

/** `local:general:42` → 42. */
export function messageId(ref: string): number {
  const id = Number(ref.split(":")[2]);
  if (!ref.startsWith(`${CONVERSATION}:`) || !Number.isSafeInteger(id)) throw new Error(`not a playground message reference: ${ref}`);
  return id;
}

export function createPlaygroundStore(sql: Sql) {
  async function changed(message: PlaygroundMessage): Promise<PlaygroundMessage> {
    await sql.notify(CHANGES, String(message.id));
    return message;
  }
  return {
    async post(view: View, options: { thread?: number; privateTo?: string; author?: string } = {}): Promise<PlaygroundMessage> {
      // A person's own words (the echo of their command) carry their identity in the stored view.
      const stored = options.author ? { ...view, author: options.author } : view;
      const [message] = await sql<PlaygroundMessage[]>`
        insert into playground_messages (conversation, thread, private_to, view)
        values (${CONVERSATION}, ${options.thread ?? null}, ${options.privateTo ?? null}, ${sql.json(stored as never)})
        returning *`;
      return changed(message!);
    },
    async edit(id: number, view: View): Promise<PlaygroundMessage> {
      const [message] = await sql<PlaygroundMessage[]>`
        update playground_messages set view = ${sql.json(view as never)}, version = version + 1, updated_at = now()
        where id = ${id} returning *`;
      if (!message) throw new TestumError("chat_unavailable", `the playground message ${id} no longer exists`);
      return changed(message);
    },
    async get(id: number): Promise<PlaygroundMessage | undefined> {
      const [message] = await sql<PlaygroundMessage[]>`select * from playground_messages where id = ${id}`;
      return message;
    },
    /** The latest messages `viewer` may see, oldest first. */
    async recent(viewer: string, limit = 200): Promise<PlaygroundMessage[]> {
      const rows = await sql<PlaygroundMessage[]>`
        select * from playground_messages
        where conversation = ${CONVERSATION} and (private_to is null or private_to = ${viewer})
        order by id desc limit ${limit}`;
      return rows.reverse();
    },
  };
}

export type PlaygroundStore = ReturnType<typeof createPlaygroundStore>;
