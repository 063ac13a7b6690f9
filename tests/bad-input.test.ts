import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDiscordWorld, type DiscordWorld } from "./helpers/discord-world.js";
import { blockText, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";

// Input nobody should send: each gets a private answer that says what is wrong and
// what is expected, never "internal error" or an HTTP 500, and nothing is half-created.

let slack: SlackWorld;
let discord: DiscordWorld;

function said(res: { json?: Record<string, unknown> | undefined }): string {
  return `${String(res.json?.text ?? "")}\n${blockText((res.json?.blocks as Record<string, unknown>[]) ?? [])}`;
}

const counts = async (world: SlackWorld | DiscordWorld) => {
  const [row] = await world.testum.sql<{ jobs: number; schedules: number }[]>`
    select (select count(*)::int from jobs) as jobs, (select count(*)::int from schedules) as schedules`;
  return row!;
};

beforeAll(async () => {
  [slack, discord] = await Promise.all([startSlackWorld({ hosts: 1 }), startDiscordWorld({ hosts: 1 })]);
  await slack.addHost("s1", slack.ssh.hosts[0]!);
  await discord.addHost("s1", discord.ssh.hosts[0]!);
});

afterAll(async () => {
  await Promise.all([slack?.stop(), discord?.stop()]);
});

describe("bad input from chat gets a clear answer", () => {
  it("text commands: NUL, huge ids, backwards ranges, misplaced options, long names", async () => {
    const before = await counts(slack);
    const cases: Array<[string, RegExp]> = [
      ["run s1 'echo a\u0000b'", /NUL character/],
      ["jobs show 99999999999999999999", /job must be a whole number from 1 to 9007199254740991/],
      ["cancel 0", /job must be a whole number from 1/],
      ["run [z-a] 'true'", /the range \[z-a\] in "\[z-a\]" runs backwards/],
      ['schedule add "* * * * *" s1 true --tz Mars/Olympus', /--tz comes after an unquoted command.*Quote the command/s],
      ["run s1 echo hi --timeout 5s", /--timeout comes after an unquoted command/],
      [`schedule add "* * * * *" s1 'true' --name ${"n".repeat(300)}`, /--name expects at most 64 characters/],
      [`run s1 '${"x".repeat(20_001)}'`, /at most 20000/],
    ];
    for (const [text, expected] of cases) {
      const res = await slack.slash(text);
      expect(res.status, text.slice(0, 60)).toBe(200);
      const answer = said(res);
      expect(answer, text.slice(0, 60)).toMatch(expected);
      expect(answer).not.toMatch(/internal error/i);
    }
    expect(await counts(slack)).toEqual(before);
    // Quoted, the same schedule is judged on its time zone.
    expect(said(await slack.slash(`schedule add "* * * * *" s1 'true' --tz Mars/Olympus`))).toContain('"Mars/Olympus" is not a time zone');
  });

  it("log links with a broken %-escape are a 404 with a reason, not a 500", async () => {
    const res = await fetch(`${slack.testum.url}/logs/abcdefghijklmnopqrstuvwxyz012345/%E0%A4%A`);
    expect(res.status).toBe(404);
    expect(await res.text()).toContain("broken %-escape");
  });
});

describe("bad input from Discord gets a clear answer", () => {
  it("a signed body that is not an interaction is a 400", async () => {
    for (const body of [null, 42, "text", true]) {
      const res = await discord.send(body as never);
      expect(res.status).toBe(400);
    }
  });

  it("NUL and lone surrogates in typed options are refused before anything is stored", async () => {
    const before = await counts(discord);
    for (const command of ["echo a\u0000b", "echo \ud800", "echo \udc00x"]) {
      const res = await discord.command(["run"], { target: "s1", command });
      expect(res.status).toBe(200);
      expect(res.text).toMatch(/NUL character|not valid Unicode/);
      expect(res.text).not.toMatch(/internal error/i);
    }
    expect(await counts(discord)).toEqual(before);
    // A well-formed emoji (a surrogate pair) is fine.
    const ok = await discord.command(["run"], { target: "s1", command: "echo 🙂" });
    expect(ok.text).toMatch(/#\d+/);
  });
});
