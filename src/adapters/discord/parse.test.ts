import { describe, expect, it } from "vitest";
import type { APIInteraction } from "discord-api-types/v10";
import { parseCommandOptions, parseCommandText } from "../../core/commands/commands.js";
import { DM_REFUSAL, NOT_INSTALLED, parseInteraction } from "./parse.js";

const GUILD = "100000000000000001";
const CHANNEL = "100000000000000002";
const USER = "100000000000000003";
const ROLE = "100000000000000004";
const respond = async () => {};

function interaction(type: number, data: unknown, extra: Record<string, unknown> = {}): APIInteraction {
  return {
    id: "100000000000000009",
    application_id: "100000000000000010",
    type,
    token: "t",
    version: 1,
    guild_id: GUILD,
    channel: { id: CHANNEL, type: 0 },
    channel_id: CHANNEL,
    member: { user: { id: USER, username: "alice", global_name: "Alice A." }, roles: [ROLE], nick: null },
    locale: "de",
    authorizing_integration_owners: { 0: GUILD },
    data,
    ...extra,
  } as unknown as APIInteraction;
}

describe("parseInteraction", () => {
  it("turns /testum run into the same command as the Slack text", () => {
    const parsed = parseInteraction(
      interaction(2, {
        type: 1,
        name: "testum",
        options: [
          {
            type: 1,
            name: "run",
            options: [
              { type: 3, name: "target", value: "prod-db" },
              { type: 3, name: "command", value: "df -h" },
            ],
          },
        ],
      }),
      respond,
    );
    if (parsed.kind !== "inbound" || parsed.event.kind !== "command") throw new Error(`unexpected ${parsed.kind}`);
    const { event } = parsed;
    const input = event.input;
    if (input.type !== "options") throw new Error("expected typed options");
    expect(event.actor).toEqual({ id: `discord:${GUILD}:${USER}`, name: "Alice A.", groups: [`discord:${GUILD}:role:${ROLE}`], locale: "de" });
    expect(event.conversation).toBe(`discord:${GUILD}:${CHANNEL}`);
    expect(event.eventId).toBe("100000000000000009");
    expect(parseCommandOptions(input.path, input.options)).toEqual(parseCommandText("run prod-db 'df -h'"));
  });

  it("unwraps a subcommand group", () => {
    const parsed = parseInteraction(interaction(2, { type: 1, name: "testum", options: [{ type: 2, name: "hosts", options: [{ type: 1, name: "list", options: [] }] }] }), respond);
    expect(parsed).toMatchObject({ kind: "inbound", event: { input: { type: "options", path: ["hosts", "list"], options: {} } } });
  });

  it("refuses direct messages and servers testum is not installed in", () => {
    const dm = interaction(2, { type: 1, name: "testum" }, { guild_id: undefined, member: undefined, user: { id: USER, username: "alice" } });
    expect(parseInteraction(dm, respond)).toEqual({ kind: "refused", reason: DM_REFUSAL });
    const userInstall = interaction(2, { type: 1, name: "testum" }, { authorizing_integration_owners: { 1: USER } });
    expect(parseInteraction(userInstall, respond)).toEqual({ kind: "refused", reason: NOT_INSTALLED });
  });

  it("turns a click into an action on the clicked message, and a modal into form values", () => {
    const click = parseInteraction(interaction(3, { custom_id: "approve:7", component_type: 2 }, { message: { id: "100000000000000011" } }), respond);
    expect(click).toMatchObject({ kind: "inbound", hasMessage: true, event: { kind: "action", action: "approve:7", message: `discord:${GUILD}:${CHANNEL}:100000000000000011` } });
    const modal = parseInteraction(
      interaction(5, {
        custom_id: "reason:7",
        components: [
          { type: 1, components: [{ type: 4, custom_id: "reason", value: "disk full" }] },
          { type: 18, component: { type: 4, custom_id: "note", value: "" } },
        ],
      }),
      respond,
    );
    expect(modal).toMatchObject({ kind: "inbound", hasMessage: false, event: { kind: "form", action: "reason:7", values: { reason: "disk full", note: "" } } });
  });

  it("turns autocomplete into a completion request for the focused option", () => {
    const typing = parseInteraction(
      interaction(4, { type: 1, name: "testum", options: [{ type: 1, name: "run", options: [{ type: 3, name: "target", value: "pro", focused: true }] }] }),
      respond,
    );
    expect(typing).toMatchObject({ kind: "complete", complete: "target", prefix: "pro", actor: { id: `discord:${GUILD}:${USER}` } });
  });

  it("names the actor by server nickname first", () => {
    const parsed = parseInteraction(
      interaction(2, { type: 1, name: "testum", options: [] }, { member: { user: { id: USER, username: "alice", global_name: "Alice A." }, roles: [], nick: "ally" } }),
      respond,
    );
    expect(parsed).toMatchObject({ event: { actor: { name: "ally", groups: [] } } });
  });
});
