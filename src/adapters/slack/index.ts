import type { ChatPlatform } from "../platform.js";
import { slackConfig } from "./config.js";
import { SLACK_TEXT } from "./strings.js";

/**
 * Slack (api.slack.com): slash commands, buttons and modals in, messages and
 * threads out. The SDK (Bolt, the Web API client) loads only when Slack is on.
 */
export const slack: ChatPlatform<typeof slackConfig> = {
  id: "slack",
  name: "Slack",
  identities: { person: "slack:T0123:U0456", group: "slack:TEAM:group:S0123" },
  config: slackConfig,
  strings: SLACK_TEXT,
  async connect(config, services) {
    const { SLACK_BOT_TOKEN: botToken } = config;
    // config.ts turns Slack on with the bot token and either the app-level token or the signing secret.
    if (!botToken || !(config.SLACK_APP_TOKEN || config.SLACK_SIGNING_SECRET))
      return { off: "Slack: off (SLACK_BOT_TOKEN, with SLACK_APP_TOKEN or SLACK_SIGNING_SECRET, not set)" };
    const { connectSlack } = await import("./connect.js");
    return connectSlack({ ...config, SLACK_BOT_TOKEN: botToken }, services);
  },
};
