import type { ChatPlatform } from "../platform.js";
import { playgroundConfig } from "./config.js";

/**
 * The playground: a chat kept by testum itself, in the browser, to try
 * testum without a chat platform. A stand-in: on by itself only when no
 * chat platform is.
 */
export const playground: ChatPlatform<typeof playgroundConfig> = {
  id: "local",
  name: "playground",
  identities: { person: "local:alice" },
  config: playgroundConfig,
  standIn: true,
  async connect(config, services) {
    const { connectPlayground } = await import("./connect.js");
    return connectPlayground(config, services);
  },
};
