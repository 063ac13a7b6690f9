import { ConfigError, loadPublicUrl } from "../core/config.js";
import { slackManifest, toYaml } from "../adapters/slack/manifest.js";
import { parseVerbArgs, type Verb } from "./shared.js";

const MANIFEST_HELP = `Usage: testum slack manifest [--socket]

Prints the Slack app testum needs as an app manifest. At https://api.slack.com/apps
choose "Create New App" → "From an app manifest", pick the workspace, paste it,
create the app and install it. Then copy two tokens:

  SLACK_BOT_TOKEN   OAuth & Permissions → Bot User OAuth Token (xoxb-…)
  SLACK_APP_TOKEN   with --socket: Basic Information → App-Level Tokens →
                    Generate, with the scope connections:write (xapp-…)
  SLACK_SIGNING_SECRET  without --socket: Basic Information → Signing Secret

  --socket   Socket Mode: testum connects out to Slack, so nothing has to
             reach it from the internet. Without it, Slack posts to
             PUBLIC_URL/slack/events, which must be a public https URL.`;

const manifest: Verb = {
  name: "manifest",
  summary: "print the Slack app manifest (--socket: Socket Mode, no public URL)",
  help: MANIFEST_HELP,
  async run(args) {
    const { values } = parseVerbArgs(this, args, { socket: { type: "boolean" } });
    if (values.help) return void console.log(MANIFEST_HELP);
    const socket = values.socket === true;
    const publicUrl = loadPublicUrl();
    if (!socket && publicUrl === undefined) {
      throw new ConfigError(["PUBLIC_URL: required for a manifest where Slack posts to testum (PUBLIC_URL/slack/events); or use --socket, which needs no public URL"]);
    }
    if (!socket && !publicUrl!.startsWith("https://")) console.error(`testum: Slack only posts to https URLs; ${publicUrl} will be refused`);
    process.stdout.write(toYaml(slackManifest({ socket, publicUrl: publicUrl ?? "" })));
  },
};

export const SLACK_VERBS: readonly Verb[] = [manifest];
