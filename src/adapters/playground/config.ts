import { z } from "zod";
import type { ConfigFragment } from "../../core/config.js";

const fields = {
  /** on, off, or auto: on when no chat platform is configured. */
  PLAYGROUND: z
    .string()
    .default("auto")
    .transform((v, ctx) => {
      const value = v.trim().toLowerCase();
      if (["auto", ""].includes(value)) return "auto" as const;
      if (["on", "1", "true", "yes"].includes(value)) return "on" as const;
      if (["off", "0", "false", "no"].includes(value)) return "off" as const;
      ctx.addIssue({ code: "custom", message: `expected on, off or auto, got "${v}"` });
      return z.NEVER;
    }),
  PLAYGROUND_HOST: z.string().trim().min(1).default("127.0.0.1"),
  /** Where the playground listens next to a chat platform (default PORT + 1); alone, it takes PORT. */
  PLAYGROUND_PORT: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return undefined;
      const port = Number(v);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        ctx.addIssue({ code: "custom", message: "expected a port number from 0 to 65535" });
        return z.NEVER;
      }
      return port;
    }),
};

/** The playground's variables. */
export const playgroundConfig: ConfigFragment<typeof fields> = { fields };
