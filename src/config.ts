import type { ChatPlatform } from "./adapters/platform.js";
import { PLATFORMS } from "./adapters/platforms.js";
import type { IdentityForms } from "./core/access/chat-identities.js";
import { parseConfig, type CoreConfig, type SettingsOf } from "./core/config.js";

type Both<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
/** Every listed platform's settings, side by side. */
type PlatformSettings = Both<(typeof PLATFORMS)[number] extends infer P ? (P extends ChatPlatform<infer F> ? SettingsOf<F> : never) : never>;

/**
 * The whole configuration: core's settings and every chat platform's, parsed
 * once at start-up and frozen, with the platforms it was made for (the
 * runtime starts those).
 */
export type Config = CoreConfig &
  PlatformSettings & {
    readonly platforms: readonly ChatPlatform[];
  };

/** The identity prefixes and examples of a list of platforms. */
export function identityForms(platforms: readonly ChatPlatform[]): IdentityForms {
  return { prefixes: platforms.map((p) => p.id), examples: platforms.map((p) => p.identities.person) };
}

/**
 * Parses the environment (process.env when not given) into the whole
 * configuration; throws ConfigError naming every bad variable. `platforms`
 * replaces the list of platforms (tests plug one in this way).
 */
export function loadConfig(
  env?: Readonly<Record<string, string | undefined>>,
  options: { readonly createKey?: boolean; readonly platforms?: readonly ChatPlatform[] } = {},
): Config {
  const platforms = options.platforms ?? PLATFORMS;
  const parsed = parseConfig(env, { fragments: platforms.map((p) => p.config), identities: identityForms(platforms) }, options);
  // parseConfig parsed every platform's fragment into the same object: what Config says, by construction.
  return Object.freeze({ ...parsed, platforms }) as Config;
}
