import { discord } from "./discord/index.js";
import type { ChatPlatform } from "./platform.js";
import { playground } from "./playground/index.js";
import { slack } from "./slack/index.js";

/**
 * Every chat platform testum speaks, in the order configuration, start-up
 * logs and help list them. Adding a platform is adding its folder and one
 * line here (docs/adding-a-platform.md).
 */
export const PLATFORMS = [slack, discord, playground] as const satisfies readonly ChatPlatform[];
