/**
 * The Slack app testum needs, as an app manifest (api.slack.com/reference/manifests)
 * to paste into "Create New App → From an app manifest": the bot user, the
 * /testum slash command, interactivity (buttons and forms) and exactly the bot
 * scopes testum uses.
 */

/**
 * commands: the /testum slash command. chat:write: the job's messages and
 * their edits. chat:write.public: public channels without inviting testum.
 * users:read: each person's language, and whether a schedule's owner still
 * exists (users.info). usergroups:read: roles granted to Slack user groups
 * (usergroups.list).
 */
export const SLACK_BOT_SCOPES = ["commands", "chat:write", "chat:write.public", "users:read", "usergroups:read"] as const;

export interface SlackManifestOptions {
  /** Socket Mode: no request URLs (SLACK_APP_TOKEN); otherwise Slack posts to `publicUrl`/slack/events. */
  readonly socket: boolean;
  readonly publicUrl: string;
}

type Yaml = string | number | boolean | readonly Yaml[] | { readonly [key: string]: Yaml | undefined };

export function slackManifest(options: SlackManifestOptions): Yaml {
  const events = options.socket ? undefined : `${options.publicUrl.replace(/\/+$/, "")}/slack/events`;
  return {
    _metadata: { major_version: 1, minor_version: 1 },
    display_information: {
      name: "testum",
      description: "Run commands on your hosts, with approvals, live output and an audit trail",
      background_color: "#1f2933",
    },
    features: {
      bot_user: { display_name: "testum", always_online: true },
      slash_commands: [
        {
          command: "/testum",
          url: events,
          description: "Run commands on your hosts",
          usage_hint: "run TARGET 'COMMAND' | help",
          // Mentions arrive as <@U…> ids, which testum turns into identities (grant @alice …).
          should_escape: true,
        },
      ],
    },
    oauth_config: { scopes: { bot: SLACK_BOT_SCOPES } },
    settings: {
      interactivity: { is_enabled: true, request_url: events },
      org_deploy_enabled: false,
      socket_mode_enabled: options.socket,
      token_rotation_enabled: false,
    },
  };
}

/**
 * YAML for the manifest. Every string is written as a JSON string, which YAML
 * reads as the same double-quoted scalar, so no value can change meaning.
 */
export function toYaml(value: Yaml, indent = ""): string {
  if (typeof value !== "object") return `${scalar(value)}\n`;
  if (Array.isArray(value)) {
    // An item's first line follows the dash; the rest line up under it.
    return value.map((item: Yaml) => `${indent}- ${toYaml(item, `${indent}  `).trimStart()}`).join("");
  }
  let out = "";
  for (const [key, item] of Object.entries(value as { readonly [key: string]: Yaml | undefined })) {
    if (item === undefined) continue;
    if (typeof item === "object") out += `${indent}${key}:\n${toYaml(item, `${indent}  `)}`;
    else out += `${indent}${key}: ${scalar(item)}\n`;
  }
  return out;
}

function scalar(value: string | number | boolean): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}
