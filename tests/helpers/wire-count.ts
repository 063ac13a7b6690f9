// Counts what a testum process asks of PostgreSQL and Redis: TCP proxies in front of the machine's
// services that read the client side of each protocol and record every SQL statement (with its
// text) and every Redis command, with when it was sent and on which connection. Used to count
// the work on a command's answer path (tests/ack-cost.test.ts, bench/ack-cost.ts).

import { connect, createServer, type Server, type Socket } from "node:net";

export interface WireCall {
  /** Milliseconds (performance.now()) when the client sent it. */
  readonly at: number;
  /** Which connection sent it (numbered in accept order). */
  readonly connection: number;
  /** PostgreSQL: the connection's application_name; Redis: "". */
  readonly app: string;
  /** SQL text (whitespace collapsed) or the Redis command with its first argument. */
  readonly text: string;
  /** Sent in the same TCP write as the one before it on this connection (pipelined). */
  readonly pipelined: boolean;
}

export interface WireCounter {
  readonly port: number;
  readonly calls: WireCall[];
  close(): Promise<void>;
}

type Parser = (chunk: Buffer) => void;

async function proxy(
  target: { host: string; port: number },
  parserFor: (connection: number, record: (app: string, text: string, first: boolean) => void) => Parser,
): Promise<WireCounter> {
  const calls: WireCall[] = [];
  const open = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((client) => {
    const connection = ++connections;
    open.add(client);
    const upstream = connect(target.port, target.host);
    open.add(upstream);
    const parse = parserFor(connection, (app, text, first) => {
      calls.push({ at: performance.now(), connection, app, text, pipelined: !first });
    });
    client.on("data", (chunk: Buffer) => {
      try {
        parse(chunk);
      } catch {
        // What cannot be read is still forwarded.
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    calls,
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * PostgreSQL's frontend protocol: a startup message (length, version, then
 * name/value pairs), then typed messages (type byte, length). A statement is
 * a simple Query ('Q') or an Execute ('E') of the statement last bound ('B'),
 * whose text came with its Parse ('P', once per prepared statement).
 */
export function startPostgresCounter(target = { host: "127.0.0.1", port: 5432 }): Promise<WireCounter> {
  return proxy(target, (_connection, record) => {
    let buffer = Buffer.alloc(0);
    let started = false;
    let app = "";
    const prepared = new Map<string, string>();
    let unnamed = "";
    let bound = "";
    let first = true;
    return (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      first = true;
      for (;;) {
        if (!started) {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          if (code !== 80877103 && code !== 80877104) {
            const fields = buffer.subarray(8, length).toString("utf8").split("\0");
            for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === "application_name") app = fields[i + 1]!;
            started = true;
          }
          buffer = buffer.subarray(length);
          continue;
        }
        if (buffer.length < 5) return;
        const type = String.fromCharCode(buffer[0]!);
        const length = buffer.readInt32BE(1);
        if (buffer.length < 1 + length) return;
        const body = buffer.subarray(5, 1 + length);
        buffer = buffer.subarray(1 + length);
        const cstrings = () => body.toString("utf8").split("\0");
        const say = (text: string) => {
          record(app, text.replace(/\s+/g, " ").trim(), first);
          first = false;
        };
        if (type === "Q") say(cstrings()[0]!);
        else if (type === "P") {
          const [name = "", text = ""] = cstrings();
          if (name === "") unnamed = text;
          else prepared.set(name, text);
        } else if (type === "B") {
          const [, statement = ""] = cstrings();
          bound = statement === "" ? unnamed : (prepared.get(statement) ?? `(prepared ${statement})`);
        } else if (type === "E") say(bound);
      }
    };
  });
}

/** Redis's RESP: each command is an array of bulk strings. */
export function startRedisCounter(target = { host: "127.0.0.1", port: 6379 }): Promise<WireCounter> {
  return proxy(target, (_connection, record) => {
    let buffer = Buffer.alloc(0);
    return (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      let first = true;
      for (;;) {
        const parsed = readCommand(buffer);
        if (!parsed) return;
        buffer = buffer.subarray(parsed.used);
        const [name = "", ...args] = parsed.args;
        // A script is named by the first key it touches.
        const arg = name.toLowerCase() === "evalsha" || name.toLowerCase() === "eval" ? (args[2] ?? "") : (args[0] ?? "");
        record("", `${name.toUpperCase()} ${arg}`.trim(), first);
        first = false;
      }
    };
  });
}

function readCommand(buffer: Buffer): { args: string[]; used: number } | undefined {
  const line = (from: number) => {
    const end = buffer.indexOf("\r\n", from);
    return end < 0 ? undefined : { text: buffer.subarray(from, end).toString("latin1"), next: end + 2 };
  };
  const head = line(0);
  if (!head) return undefined;
  if (!head.text.startsWith("*")) return { args: head.text.split(" "), used: head.next };
  const count = Number(head.text.slice(1));
  const args: string[] = [];
  let at = head.next;
  for (let i = 0; i < count; i++) {
    const size = line(at);
    if (!size) return undefined;
    const length = Number(size.text.slice(1));
    if (buffer.length < size.next + length + 2) return undefined;
    args.push(buffer.subarray(size.next, size.next + length).toString("utf8"));
    at = size.next + length + 2;
  }
  return { args, used: at };
}
