// A TCP proxy on 127.0.0.1 in front of a real service, so fault tests can cut it
// without touching the service (the machine's Postgres and Redis are shared).
//
// Modes:
//   pass       forward both ways
//   blackhole  accept connections and never answer (nor forward); open ones go silent too
//   refuse     close every new connection at once (open ones are cut)
//   down       not listening at all: connections are refused, as when the service is stopped
//   http500    answer every HTTP request with 500 Internal Server Error

import { createServer, connect, type Server, type Socket } from "node:net";

export type ProxyMode = "pass" | "blackhole" | "refuse" | "http500" | "down";

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  readonly mode: ProxyMode;
  /** Switches mode; every open connection is cut unless the new mode is pass. */
  set(mode: ProxyMode): Promise<void>;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }, mode: ProxyMode = "pass"): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let accepted = 0;
  const state = { mode };

  const server: Server = createServer((client) => {
    accepted += 1;
    open.add(client);
    client.on("close", () => open.delete(client));
    client.on("error", () => {});
    switch (state.mode) {
      case "refuse":
      case "down":
        client.destroy();
        return;
      case "blackhole":
        client.on("data", () => {});
        return;
      case "http500": {
        let buffered = "";
        client.on("data", (chunk: Buffer) => {
          buffered += chunk.toString("latin1");
          if (!buffered.includes("\r\n\r\n")) return;
          buffered = "";
          const body = "<Error><Code>InternalError</Code><Message>fault test</Message></Error>";
          client.end(`HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
        });
        return;
      }
      case "pass": {
        const upstream = connect(target.port, target.host);
        open.add(upstream);
        upstream.on("close", () => open.delete(upstream));
        upstream.on("error", () => client.destroy());
        client.on("error", () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.on("close", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
      }
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;

  const cutAll = () => {
    for (const socket of open) {
      if (state.mode === "blackhole") {
        // Gone silent: the peer sees no answer and no close.
        socket.unpipe();
        socket.removeAllListeners("data");
        socket.on("data", () => {});
        socket.pause();
      } else socket.destroy();
    }
  };

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return state.mode;
    },
    async set(m: ProxyMode) {
      const was = state.mode;
      state.mode = m;
      if (m !== "pass") cutAll();
      if (m === "down" && was !== "down") await new Promise<void>((resolve) => server.close(() => resolve()));
      if (m !== "down" && was === "down") await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    },
    get accepted() {
      return accepted;
    },
    async close() {
      for (const socket of open) socket.destroy();
      if (state.mode !== "down") await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
