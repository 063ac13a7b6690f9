import { createSlackChat, createSlackClient } from "../../src/adapters/slack/chat.js";
import { createSlackReceiver } from "../../src/adapters/slack/http.js";
import { startSlackSocketMode } from "../../src/adapters/slack/socket.js";
import { encodeMessage } from "../../src/adapters/slack/refs.js";
import { DEFAULT_BOT_TOKEN, DEFAULT_TEAM_ID, startFakeSlack } from "../fakes/slack-api.js";
import { postSignedSlack, slashCommandBody, slashCommandPayload } from "../helpers/slack-sign.js";
import { quietLogger } from "../helpers/testum.js";
import { chatContract, type ContractDriver } from "./chat-contract.js";
import { isolatedBudget, serve } from "./harness.js";

const CHANNEL = "C0000000001";
const SECRET = "contract-signing-secret";

/** Text a person reads: Slack's escapes undone. */
const unescape = (text: string) => text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

function texts(node: unknown, out: { mrkdwn: string[]; literal: string[]; values: string[] }, literal = false): void {
  if (Array.isArray(node)) return node.forEach((n) => texts(n, out, literal));
  if (!node || typeof node !== "object") return;
  const obj = node as Record<string, unknown>;
  const isLiteral = literal || obj.type === "rich_text";
  if (typeof obj.text === "string") (isLiteral ? out.literal : out.mrkdwn).push(obj.text);
  if (obj.type === "button" && typeof obj.value === "string") out.values.push(obj.value);
  for (const [key, value] of Object.entries(obj)) if (key !== "text" || typeof value !== "string") texts(value, out, isLiteral);
}

/** What every Slack driver shares: the fake, the adapter, and reading back what people see. */
async function slackDriver() {
  const slack = await startFakeSlack();
  const log = quietLogger();
  const isolated = isolatedBudget();
  const settings = { botToken: DEFAULT_BOT_TOKEN, apiUrl: slack.url };
  const adapter = createSlackChat(createSlackClient(settings, log), isolated.budget);
  const command = (text: string) => ({ text, teamId: DEFAULT_TEAM_ID, userId: "U0CONTRACT1", channelId: CHANNEL, responseUrl: slack.newResponseUrl({ channel: CHANNEL }) });
  const base: Omit<ContractDriver, "sendCommand" | "sendForged" | "stop"> = {
    adapter,
    conversation: `slack:${DEFAULT_TEAM_ID}:${CHANNEL}`,
    read(ref) {
      const message = slack.message(CHANNEL, ref.split(":")[3]!);
      if (!message) return undefined;
      const out = { mrkdwn: [] as string[], literal: [] as string[], values: [] as string[] };
      texts(message.blocks, out);
      return { text: [...out.mrkdwn, ...out.literal].map(unescape).join("\n"), buttons: out.values };
    },
    threadMessages(thread) {
      return slack.replies(CHANNEL, thread.split(":")[3]!).map((m) => encodeMessage(DEFAULT_TEAM_ID, CHANNEL, m.ts));
    },
    anyPings() {
      // Only mrkdwn text and the notification text are parsed for mentions; rich_text is literal.
      return slack.messages().some((m) =>
        [m, ...m.edits].some((version) => {
          const out = { mrkdwn: [] as string[], literal: [] as string[], values: [] as string[] };
          texts(version.blocks, out);
          return [version.text, ...out.mrkdwn].some((t) => /<!(channel|here|everyone)|<@[UW]/.test(t));
        }),
      );
    },
    rateLimits: {
      nextEdit(seconds) {
        slack.failNext("chat.update", { status: 429, retryAfter: seconds });
      },
      count: () => slack.rateLimitedCount("chat.update"),
    },
  };
  return { slack, log, isolated, settings, adapter, command, base };
}

chatContract("slack", async (core) => {
  const { slack, log, isolated, settings, adapter, command, base } = await slackDriver();
  const receiver = createSlackReceiver({ signingSecret: SECRET, settings, core, chat: adapter, log });
  const { url, server } = await serve(receiver.listener);
  return {
    ...base,
    async sendCommand(text) {
      const res = await postSignedSlack(`${url}/slack/events`, slashCommandBody(command(text)), SECRET);
      return { status: res.status, body: unescape(res.body) };
    },
    async sendForged(text) {
      return postSignedSlack(`${url}/slack/events`, slashCommandBody(command(text)), "forged-secret");
    },
    async stop() {
      server.close();
      isolated.close();
      await slack.close();
    },
  };
});

chatContract(
  "slack",
  async (core) => {
    const { slack, log, isolated, settings, adapter, command, base } = await slackDriver();
    const socket = startSlackSocketMode({ appToken: slack.socket.appToken, settings, core, chat: adapter, log, replay: isolated.replay });
    await socket.ready;
    return {
      ...base,
      async sendCommand(text) {
        const delivery = await slack.socket.send("slash_commands", slashCommandPayload(command(text)));
        return delivery.ok ? { status: 200, body: unescape(JSON.stringify(delivery.ack ?? {})) } : { status: 0, body: delivery.error };
      },
      async stop() {
        await socket.stop();
        isolated.close();
        await slack.close();
      },
    };
  },
  { name: "Socket Mode", signed: false },
);
