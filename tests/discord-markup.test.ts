import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { autocompleteInteraction, snowflake } from "./helpers/discord-sign.js";
import { jobIdFrom, messageText, startDiscordWorld, type DiscordWorld, type Member } from "./helpers/discord-world.js";
import { eventually } from "./helpers/testum.js";

let world: DiscordWorld;

beforeAll(async () => {
  world = await startDiscordWorld({ hosts: 2 });
  await world.addHost("s1", world.ssh.hosts[0]!);
  await world.addHost("m1", world.ssh.hosts[1]!);
});

afterAll(async () => {
  await world?.stop();
});

async function liveAfter(command: string) {
  const answer = await world.command(["run"], { target: "s1", command });
  const job = await world.finished(jobIdFrom(answer.text));
  const threadId = job.thread!.split(":")[2]!;
  return eventually("the live message to show the outcome", () => {
    const message = world.discord.message(world.discord.messages(threadId)[0]?.id ?? "");
    return message && /succeeded on/.test(messageText(message)) ? message : undefined;
  });
}

describe("host output in Discord messages", () => {
  it("never leaves the code block, whatever backtick runs it contains", async () => {
    const script = [
      "echo line1",
      "printf '%s\\n' '````'",
      "printf '%s\\n' '**bold** [click me](https://evil.example/login) <@123456789012345678> @everyone'",
      "printf '%s\\n' '# Big heading'",
      "printf '%s\\n' '`````````` ``` `` `'",
      "echo end",
    ].join("; ");
    const live = await liveAfter(script);
    const content = live.content;
    // One code block: it opens at the start and the only other run of three backticks closes it.
    expect(content.startsWith("```\n")).toBe(true);
    const inner = content.slice(4, content.lastIndexOf("\n```"));
    expect(inner).toContain("line1");
    expect(inner).toContain("# Big heading");
    expect(inner).toContain("end");
    expect(inner).not.toMatch(/``/);
    expect(content.slice(content.lastIndexOf("\n```")).trim()).toBe("```");
    expect(world.discord.pings()).toEqual([]);
  });

  it("shows bidirectional controls as their code points instead of letting them reorder text", async () => {
    const live = await liveAfter("printf 'red \\342\\200\\256evil.exe.txt \\342\\201\\246x\\342\\201\\251 \\342\\200\\217\\n'");
    expect(live.content).toContain("red [U+202E]evil.exe.txt [U+2066]x[U+2069] [U+200F]");
    expect(live.content).not.toMatch(/[\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
  });
});

describe("host suggestions", () => {
  it("lists only the hosts the person typing may see", async () => {
    const carol: Member = { id: snowflake(), username: "carol", roles: [] };
    world.discord.addMember(world.discord.guildId, carol.id, { username: carol.username });
    await world.testum.sql`insert into role_bindings (subject, role, selector, created_by) values (${`discord:${world.discord.guildId}:${carol.id}`}, 'operator', 's1', 'test')`;
    const typing = (member: Member) => autocompleteInteraction({ ...world.base(member), subcommand: "run", focused: "target", options: { target: "" } });
    const names = (answer: { json?: unknown }) => ((answer.json as { data: { choices: Array<{ name: string }> } }).data.choices ?? []).map((c) => c.name);
    expect(names(await world.send(typing(world.admin)))).toEqual(["m1", "s1"]);
    // Before, carol saw every host's name here although `hosts` showed her only s1.
    expect(names(await world.send(typing(carol)))).toEqual(["s1"]);
  });
});
