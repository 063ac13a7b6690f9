import type { APIEmbed, APIInteraction } from "discord-api-types/v10";
import type { Job, Task } from "../../src/core/jobs/jobs.js";
import { startFakeDiscord, type FakeDiscord, type FakeMessage } from "../fakes/discord-api.js";
import {
  commandInteraction,
  createDiscordKeys,
  postSignedDiscord,
  snowflake,
  type BaseInteractionOptions,
  type DiscordKeys,
  type OptionValues,
  type SignedResponse,
} from "./discord-sign.js";
import { startS3, type TestS3 } from "./s3.js";
import { startSshHosts, type SshHost, type SshHostSet } from "./sshd.js";
import { jobProbes } from "./jobs.js";
import { startTestumForTest, type StartOptions, type TestumUnderTest } from "./testum.js";
import { addTestHost } from "./hosts.js";

/** A member of the fake guild, as the interaction payloads carry them. */
export interface Member {
  readonly id: string;
  readonly username: string;
  readonly nick?: string;
  readonly roles?: string[];
}

/** An answer to an interaction, with everything it shows as plain text. */
export type Answer = SignedResponse & { readonly body: { type?: number; data?: Record<string, unknown> } | undefined; readonly text: string };

/** A Discord guild (fake REST API), S3, real sshd hosts and a running testum wired together. */
export interface DiscordWorld {
  readonly discord: FakeDiscord;
  readonly keys: DiscordKeys;
  readonly s3: TestS3;
  readonly ssh: SshHostSet;
  readonly testum: TestumUnderTest;
  readonly admin: Member;
  readonly adminIdentity: string;
  readonly endpoint: string;
  /** Sends a signed `/testum <path…>` with typed options as `member`. */
  command(path: string[], options?: OptionValues, member?: Member, extra?: Partial<BaseInteractionOptions>): Promise<Answer>;
  /** Sends any signed interaction payload. */
  send(payload: APIInteraction | object): Promise<Answer>;
  /** Fields every interaction payload of this guild needs. */
  base(member?: Member): BaseInteractionOptions;
  addHost(name: string, host: SshHost, overrides?: { port?: number; privateKey?: string }): Promise<void>;
  job(id: number): Promise<Job>;
  tasks(id: number): Promise<Task[]>;
  finished(id: number, timeoutMs?: number): Promise<Job>;
  stop(): Promise<void>;
}

/** How interactions reach testum: signed POSTs to its HTTP endpoint, or INTERACTION_CREATE over the Gateway. */
export type DiscordTransport = "http" | "gateway";

/** Every way Discord can reach testum; suites that must hold over each run once per entry. */
export const DISCORD_TRANSPORTS: readonly DiscordTransport[] = ["http", "gateway"];

export async function startDiscordWorld(options: { hosts?: number; testum?: StartOptions; transport?: DiscordTransport } = {}): Promise<DiscordWorld> {
  const transport = options.transport ?? "http";
  const keys = createDiscordKeys();
  const [discord, s3, ssh] = await Promise.all([startFakeDiscord({ heartbeatIntervalMs: 5000 }), startS3(), startSshHosts(options.hosts ?? 2)]);
  const admin: Member = { id: snowflake(), username: "alice", nick: "Alice (ops)" };
  discord.addMember(discord.guildId, admin.id, { username: admin.username, nick: admin.nick! });
  const adminIdentity = `discord:${discord.guildId}:${admin.id}`;
  const testum = await startTestumForTest({
    ...options.testum,
    env: {
      DISCORD_APPLICATION_ID: discord.applicationId,
      // Without the public key testum takes the Gateway; nothing then listens for Discord.
      ...(transport === "http" ? { DISCORD_PUBLIC_KEY: keys.publicKeyHex } : {}),
      DISCORD_BOT_TOKEN: discord.botToken,
      DISCORD_API_URL: discord.api,
      TESTUM_ADMINS: adminIdentity,
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: s3.bucket,
      S3_REGION: s3.region,
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      S3_FORCE_PATH_STYLE: "true",
      ...options.testum?.env,
    },
  });
  const endpoint = `${testum.url}/discord/interactions`;

  const base = (member: Member = admin): BaseInteractionOptions => ({
    applicationId: discord.applicationId,
    guildId: discord.guildId,
    channelId: discord.channelId,
    user: { id: member.id, username: member.username },
    ...(member.nick ? { nick: member.nick } : {}),
    roles: member.roles ?? [],
  });

  if (transport === "gateway") await discord.gateway.waitForSession({ timeoutMs: 20_000 });

  async function send(payload: APIInteraction | object): Promise<Answer> {
    if (transport === "gateway") return sendOverGateway(discord, payload as GatewayPayload);
    // Discord knows every interaction it sends: late replies and follow-ups are checked against it.
    const sent = payload as Partial<GatewayPayload> | null;
    if (typeof sent?.id === "string" && typeof sent.token === "string") discord.registerInteraction(sent as GatewayPayload);
    const res = await postSignedDiscord(endpoint, payload, keys.privateKey);
    const body = res.json as Answer["body"];
    if (body?.type !== 5) return { ...res, body, text: answerText(body) };
    // Discord keeps an endpoint's answer as the interaction's response, so the late reply can replace
    // it; the fake, which does not see the endpoint's answer, is told it here as Discord would know it.
    const { id, token } = payload as GatewayPayload;
    const kept = await fetch(`${discord.api}/v10/interactions/${id}/${token}/callback`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!kept.ok) throw new Error(`the fake Discord refused the deferred answer: ${kept.status} ${await kept.text()}`);
    // Deferred (testum answers in 3 s or says "thinking…"): the reply comes later through the interaction token.
    const late = await lateAnswer(discord, (payload as GatewayPayload).id);
    return { ...res, body, text: messageText(late) };
  }

  return {
    discord,
    keys,
    s3,
    ssh,
    testum,
    admin,
    adminIdentity,
    endpoint,
    base,
    send,
    command(path, values = {}, member = admin, extra = {}) {
      const [first, second] = path;
      const shape = second === undefined ? { subcommand: first } : { subcommandGroup: first, subcommand: second };
      // The payload says who the member is now; the guild says the same when testum asks later.
      discord.addMember(discord.guildId, member.id, { username: member.username, ...(member.nick ? { nick: member.nick } : {}), roles: member.roles ?? [] });
      return send(commandInteraction({ ...base(member), ...extra, ...shape, options: values }));
    },
    addHost: (name, host, overrides = {}) => addTestHost(testum.sql, ssh, name, host, overrides),
    ...jobProbes(testum.sql),
    async stop() {
      await testum.stop();
      await Promise.all([discord.close(), s3.close(), ssh.stop()]);
    },
  };
}

type GatewayPayload = { id: string; token: string; type: number };

/**
 * Delivers an interaction as INTERACTION_CREATE and waits for testum's
 * answer at the callback route; answered like an HTTP response (status 200
 * with the callback as body), or status 0 when no answer came in 5 s.
 */
async function sendOverGateway(discord: FakeDiscord, payload: GatewayPayload): Promise<Answer> {
  const started = performance.now();
  const { id } = discord.deliverInteraction(payload);
  const callback = await discord.waitFor(() => discord.callbacks().find((c) => c.interactionId === id), 5000).catch(() => undefined);
  const body = callback?.body as Answer["body"];
  const ms = performance.now() - started;
  if (body?.type !== 5) return { status: callback ? 200 : 0, json: body, text: answerText(body), ms, body };
  // Deferred ("thinking…"): the reply replaces that answer later, through the interaction token.
  const late = await lateAnswer(discord, id);
  return { status: 200, json: body, text: messageText(late), ms, body };
}

/** The reply that replaces a deferred answer ("thinking…"), once testum has sent it. */
function lateAnswer(discord: FakeDiscord, interactionId: string) {
  return discord.waitFor(() => discord.webhookMessages().find((m) => m.interactionId === interactionId && ((m.flags ?? 0) & LOADING) === 0), 60_000);
}

/** message.mdx: the LOADING flag of a deferred answer still "thinking". */
const LOADING = 1 << 7;

/** Undoes Discord markdown escapes, as the client shows the text. */
function unescape(text: string): string {
  return text.replace(/\\([^\w\s])/g, "$1").replace(/\u200b/g, "");
}

/** All text of embeds, as a reader sees it. */
export function embedText(embeds: readonly APIEmbed[] | undefined): string {
  const out: string[] = [];
  for (const e of embeds ?? []) {
    if (e.title) out.push(e.title);
    if (e.description) out.push(e.description);
    for (const f of e.fields ?? []) out.push(`${f.name}: ${f.value}`);
    if (e.footer?.text) out.push(e.footer.text);
  }
  return unescape(out.join("\n"));
}

/** Content and embeds of a stored message, as a reader sees them. */
export function messageText(message: Pick<FakeMessage, "content" | "embeds"> | undefined): string {
  if (!message) return "";
  return `${message.content}\n${embedText(message.embeds)}`;
}

function answerText(body: Answer["body"]): string {
  const data = body?.data as { content?: string; embeds?: APIEmbed[] } | undefined;
  return `${data?.content ?? ""}\n${embedText(data?.embeds)}`;
}

/** The job id in a "Job #N queued" reply. */
export function jobIdFrom(text: string): number {
  const match = /#(\d+)/.exec(text);
  if (!match) throw new Error(`no job id in: ${text}`);
  return Number(match[1]);
}

/** The "Full log" link of a message's embed. */
export function logLink(message: Pick<FakeMessage, "embeds"> | undefined): string | undefined {
  const description = message?.embeds?.map((e) => e.description ?? "").join("\n") ?? "";
  return /\[Full log\]\((http:[^)\s]+)\)/.exec(description)?.[1];
}
