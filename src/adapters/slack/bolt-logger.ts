import type { Logger } from "../../core/ports.js";

/** Bolt's and the Slack SDKs' log lines, into testum's log. */
export function boltLogger(log: Logger) {
  const text = (parts: unknown[]) => parts.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join(" ");
  // Bolt's LogLevel values are these strings.
  let level = "info";
  return {
    debug: (...m: unknown[]) => log.debug({ source: "slack" }, text(m)),
    info: (...m: unknown[]) => log.info({ source: "slack" }, text(m)),
    warn: (...m: unknown[]) => log.warn({ source: "slack" }, text(m)),
    error: (...m: unknown[]) => log.error({ source: "slack" }, text(m)),
    setLevel: (l: string) => void (level = l),
    getLevel: () => level as never,
    setName: () => {},
  };
}
