import type { Job, Task } from "../../src/core/jobs/jobs.js";
import { DEFAULT_BOT_TOKEN, DEFAULT_TEAM_ID, startFakeSlack, type FakeSlack } from "../fakes/slack-api.js";
import { blockActionsBody, blockActionsPayload, postSignedSlack, slashCommandBody, slashCommandPayload, type BlockActionsOptions } from "./slack-sign.js";
import { startS3, type TestS3 } from "./s3.js";
import { startSshHosts, type SshHost, type SshHostSet, type StartSshHostsOptions } from "./sshd.js";
import { jobProbes } from "./jobs.js";
import { eventually, startTestumForTest, type StartOptions, type TestumUnderTest } from "./testum.js";
import { addTestHost } from "./hosts.js";

export const SIGNING_SECRET = "test-signing-secret-0123456789abcdef";
export const CHANNEL = "C0000000001";
export const ADMIN = "U0ADMIN0001";
export const ADMIN_IDENTITY = `slack:${DEFAULT_TEAM_ID}:${ADMIN}`;

/** A Slack workspace (fake), S3, real sshd hosts and a running testum wired together. */
export interface SlackWorld {
  readonly slack: FakeSlack;
  readonly s3: TestS3;
  readonly ssh: SshHostSet;
  readonly testum: TestumUnderTest;
  /** Sends a signed `/testum …` as `user`; returns the HTTP answer. */
  slash(text: string, user?: string): Promise<{ status: number; body: string; ms: number; json: Record<string, unknown> | undefined }>;
  /** Clicks the button whose payload is `value` on a message (`slack:T:C:TS`), as `user`. */
  click(messageRef: string, value: string, user?: string): Promise<{ status: number; body: string }>;
  /** Registers an sshd host in testum under `name`. */
  addHost(name: string, host: SshHost, overrides?: { port?: number; privateKey?: string; fingerprint?: string }): Promise<void>;
  job(id: number): Promise<Job>;
  tasks(id: number): Promise<Task[]>;
  /** Waits for a job to reach a final status. */
  finished(id: number, timeoutMs?: number): Promise<Job>;
  stop(): Promise<void>;
}

/** How Slack reaches testum: signed POSTs to /slack/events, or envelopes over Socket Mode. */
export type SlackTransport = "http" | "socket";

/** Every way Slack can reach testum; suites that must hold over each run once per entry. */
export const SLACK_TRANSPORTS: readonly SlackTransport[] = ["http", "socket"];

export async function startSlackWorld(options: { hosts?: number; testum?: StartOptions; transport?: SlackTransport; sshd?: StartSshHostsOptions } = {}): Promise<SlackWorld> {
  const transport = options.transport ?? "http";
  const [slack, s3, ssh] = await Promise.all([startFakeSlack(), startS3(), startSshHosts(options.hosts ?? 2, options.sshd)]);
  const testum = await startTestumForTest({
    ...options.testum,
    env: {
      // An app-level token turns Socket Mode on; then nothing listens for Slack.
      ...(transport === "socket" ? { SLACK_APP_TOKEN: slack.socket.appToken } : { SLACK_SIGNING_SECRET: SIGNING_SECRET }),
      SLACK_BOT_TOKEN: DEFAULT_BOT_TOKEN,
      SLACK_API_URL: slack.url,
      TESTUM_ADMINS: ADMIN_IDENTITY,
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: s3.bucket,
      S3_REGION: s3.region,
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      S3_FORCE_PATH_STYLE: "true",
      ...options.testum?.env,
    },
  });
  slack.ensureUser(DEFAULT_TEAM_ID, ADMIN);
  if (transport === "socket") await slack.socket.waitForReady(2, 20_000);

  /** Delivers a signed HTTP body, or the same payload as a Socket Mode envelope: the answer as an HTTP response. */
  async function deliver(kind: "slash_commands" | "interactive", raw: string, payload: Record<string, unknown>): Promise<{ status: number; body: string; ms: number }> {
    if (transport === "http") return postSignedSlack(`${testum.url}/slack/events`, raw, SIGNING_SECRET);
    const started = performance.now();
    const delivery = await slack.socket.send(kind, payload);
    const ms = performance.now() - started;
    // What Slack shows the user when the envelope was not acknowledged: an error, no answer.
    if (!delivery.ok) return { status: 0, body: delivery.error, ms };
    return { status: 200, body: delivery.ack ? JSON.stringify(delivery.ack) : "", ms };
  }

  async function slash(text: string, user = ADMIN) {
    // Whoever types a command exists in the workspace (testum looks schedule owners up later).
    slack.ensureUser(DEFAULT_TEAM_ID, user);
    const responseUrl = slack.newResponseUrl({ channel: CHANNEL, userId: user });
    const command = {
      text,
      teamId: DEFAULT_TEAM_ID,
      userId: user,
      userName: user.toLowerCase(),
      channelId: CHANNEL,
      responseUrl,
      triggerId: slack.issueTriggerId({ userId: user }),
    };
    const res = await deliver("slash_commands", slashCommandBody(command), slashCommandPayload(command));
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(res.body) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    // Slow answers come later, through the response_url.
    if (typeof json?.text === "string" && json.text.includes("Working on it")) {
      const late = await eventually("the late reply", () => slack.responses().find((r) => r.url === responseUrl)?.body, 60_000);
      json = late as Record<string, unknown>;
    }
    return { ...res, json };
  }

  async function click(messageRef: string, value: string, user = ADMIN) {
    slack.ensureUser(DEFAULT_TEAM_ID, user);
    const ts = messageRef.split(":")[3]!;
    const message = slack.message(CHANNEL, ts);
    if (!message) throw new Error(`no message ${messageRef}`);
    let actionId: string | undefined;
    for (const block of message.blocks) {
      for (const el of (block.elements as Array<Record<string, unknown>> | undefined) ?? []) if (el.value === value) actionId = String(el.action_id);
    }
    // A click on a copy of the message from before its buttons were removed.
    actionId ??= "testum-0-0";
    const click: BlockActionsOptions = {
      teamId: DEFAULT_TEAM_ID,
      userId: user,
      userName: user.toLowerCase(),
      channelId: CHANNEL,
      messageTs: ts,
      threadTs: message.threadTs,
      actionId,
      value,
      message: { text: message.text, blocks: message.blocks, user: message.user, bot_id: message.botId },
      responseUrl: slack.newResponseUrl({ channel: CHANNEL, userId: user }),
      triggerId: slack.issueTriggerId({ userId: user }),
    };
    return deliver("interactive", blockActionsBody(click), blockActionsPayload(click));
  }

  return {
    slack,
    s3,
    ssh,
    testum,
    slash,
    click,
    addHost: (name, host, overrides = {}) => addTestHost(testum.sql, ssh, name, host, overrides),
    ...jobProbes(testum.sql),
    async stop() {
      await testum.stop();
      await Promise.all([slack.close(), s3.close(), ssh.stop()]);
    },
  };
}

/** All text in a Slack message's blocks, for assertions. */
export function blockText(blocks: readonly Record<string, unknown>[]): string {
  const out: string[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) {
        if (k === "text" && typeof v === "string") out.push(v);
        else walk(v);
      }
    }
  };
  walk(blocks);
  return out.join("\n");
}

/** A reply's text and the texts of its blocks, as one string (what a person reads in it). */
export function replyText(json: Record<string, unknown> | undefined): string {
  return `${String(json?.text ?? "")}\n${blockText((json?.blocks as Record<string, unknown>[]) ?? [])}`;
}

/** The same for the answer to `world.slash`. */
export function answerText(res: { json?: Record<string, unknown> | undefined }): string {
  return replyText(res.json);
}

/** The job id in a "Job #N queued" reply. */
export function jobIdFrom(text: string): number {
  const match = /#(\d+)/.exec(text);
  if (!match) throw new Error(`no job id in: ${text}`);
  return Number(match[1]);
}

/** The body of `/testum TEXT` typed by the admin in `channel`, for a test or bench that posts it itself. */
export function adminCommandBody(slack: FakeSlack, text: string, channel: string): string {
  return slashCommandBody({
    text,
    teamId: DEFAULT_TEAM_ID,
    userId: ADMIN,
    userName: "admin",
    channelId: channel,
    responseUrl: slack.newResponseUrl({ channel, userId: ADMIN }),
    triggerId: slack.issueTriggerId({ userId: ADMIN }),
  });
}
