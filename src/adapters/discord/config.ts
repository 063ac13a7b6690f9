import { z } from "zod";
import { optionalText, url, type ConfigFragment } from "../../core/config.js";

const fields = {
  DISCORD_APPLICATION_ID: optionalText.pipe(
    z
      .string()
      .regex(/^\d{17,20}$/, "expected the application id, a number of 17 to 20 digits")
      .optional(),
  ),
  DISCORD_PUBLIC_KEY: optionalText.pipe(
    z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, "expected the application's public key: 64 hex characters")
      .optional(),
  ),
  DISCORD_BOT_TOKEN: optionalText,
  /** How interactions reach testum: over the Gateway (no public URL) or posted to PUBLIC_URL/discord/interactions. */
  DISCORD_TRANSPORT: z
    .string()
    .default("")
    .transform((v, ctx) => {
      const value = v.trim().toLowerCase();
      if (value === "" || value === "auto") return undefined;
      if (value === "gateway" || value === "http") return value;
      ctx.addIssue({ code: "custom", message: `expected gateway or http (or nothing: http when DISCORD_PUBLIC_KEY is set, else gateway), got "${v}"` });
      return z.NEVER;
    }),
  DISCORD_API_URL: url(["http:", "https:"], "https://discord.com/api").default("https://discord.com/api"),
};

/** Discord's variables: the application id and the bot token turn it on; the public key only serves the HTTP endpoint. */
export const discordConfig: ConfigFragment<typeof fields> = {
  fields,
  check(values) {
    const problems: string[] = [];
    const needed = [values.DISCORD_APPLICATION_ID, values.DISCORD_BOT_TOKEN];
    const any = [...needed, values.DISCORD_PUBLIC_KEY].some((v) => v !== undefined);
    if (any && needed.some((v) => v === undefined)) {
      const names = ["DISCORD_APPLICATION_ID", "DISCORD_BOT_TOKEN"].filter((_, i) => needed[i] === undefined);
      problems.push(`${names.join(", ")}: required to turn Discord on (the other Discord settings are set)`);
    }
    if (values.DISCORD_TRANSPORT === "http" && values.DISCORD_PUBLIC_KEY === undefined) {
      problems.push("DISCORD_PUBLIC_KEY: required with DISCORD_TRANSPORT=http (testum checks each request's signature with it)");
    }
    return problems;
  },
};
