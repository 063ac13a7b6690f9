import { z } from "zod";
import { optionalText, url, type ConfigFragment } from "../../core/config.js";

const fields = {
  /** Turns on the HTTP endpoint (PUBLIC_URL/slack/events): each request's signature is checked with it. */
  SLACK_SIGNING_SECRET: optionalText,
  SLACK_BOT_TOKEN: optionalText,
  /** An app-level token (connections:write) turns on Socket Mode: no public URL needed for Slack. */
  SLACK_APP_TOKEN: optionalText.pipe(
    z
      .string()
      .regex(/^xapp-/, "expected the app-level token, which starts with xapp- (Basic Information → App-Level Tokens, scope connections:write)")
      .optional(),
  ),
  SLACK_API_URL: url(["http:", "https:"], "https://slack.com/api/").default("https://slack.com/api/"),
};

/** Slack's variables: the bot token with the app-level token (Socket Mode) or the signing secret (HTTP) turns it on. */
export const slackConfig: ConfigFragment<typeof fields> = {
  fields,
  check(values) {
    const problems: string[] = [];
    const inbound = values.SLACK_APP_TOKEN ?? values.SLACK_SIGNING_SECRET;
    if (values.SLACK_BOT_TOKEN !== undefined && inbound === undefined) {
      problems.push(
        "SLACK_APP_TOKEN or SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN (the app-level token for Socket Mode, which needs no public URL; or the signing secret for events posted to PUBLIC_URL/slack/events)",
      );
    }
    if (values.SLACK_BOT_TOKEN === undefined && inbound !== undefined) {
      problems.push(`SLACK_BOT_TOKEN: required when ${values.SLACK_APP_TOKEN ? "SLACK_APP_TOKEN" : "SLACK_SIGNING_SECRET"} is set (both are needed to turn Slack on)`);
    }
    return problems;
  },
};
