import { networkInterfaces } from "node:os";
import { hostOfUrl, hostsFor, isLoopback } from "./guard.js";

/**
 * Where the playground is reached, worked out once it listens: the Host
 * names it accepts, the link to print (with the key) and, when it listens
 * beyond this machine, the addresses to warn about.
 */
export interface PlaygroundPlace {
  readonly allowedHosts: string[];
  /** The link to open: it carries the key of this start. */
  readonly startUrl: string;
  /** Set when the playground can be reached from other machines: a loud warning, naming the real addresses. */
  readonly warning?: string;
}

const WILDCARD = new Set(["0.0.0.0", "::", "[::]"]);

/** The machine's own non-loopback addresses, as URL hosts. */
function ownAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a): a is NonNullable<typeof a> => a !== undefined && !a.internal)
    .map((a) => (a.family === "IPv6" ? `[${a.address}]` : a.address));
}

export function placePlayground(bindHost: string, port: number, key: string, publicUrl: string | undefined): PlaygroundPlace {
  const extra: string[] = [];
  if (publicUrl) extra.push(hostOfUrl(publicUrl));
  let warning: string | undefined;
  if (!isLoopback(bindHost)) {
    const addresses = WILDCARD.has(bindHost) ? ownAddresses() : [bindHost.includes(":") && !bindHost.startsWith("[") ? `[${bindHost}]` : bindHost];
    // Literal addresses only: a name could be re-pointed at this machine by anyone (DNS rebinding).
    extra.push(...addresses.map((a) => `${a}:${port}`));
    const where = addresses.length > 0 ? addresses.map((a) => `http://${a}:${port}/`).join(", ") : `every address of this machine, port ${port}`;
    warning =
      `PLAYGROUND_HOST=${bindHost}: THE PLAYGROUND IS REACHABLE FROM OTHER MACHINES at ${where}. ` +
      "Whoever has its start link acts there as local:admin. Set PLAYGROUND_HOST=127.0.0.1 unless you mean it.";
  }
  const allowedHosts = hostsFor(port, extra);
  const shown = isLoopback(bindHost) ? (bindHost === "localhost" ? "localhost" : bindHost.includes(":") ? "[::1]" : bindHost) : "127.0.0.1";
  return { allowedHosts, startUrl: `http://${shown}:${port}/?k=${key}`, ...(warning ? { warning } : {}) };
}
