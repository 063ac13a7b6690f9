import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDiscordCommand } from "../src/adapters/discord/commands.js";
import { grant } from "../src/core/access/access.js";
import { autocompleteInteraction, snowflake } from "./helpers/discord-sign.js";
import { jobIdFrom, startDiscordWorld, type DiscordWorld, type Member } from "./helpers/discord-world.js";

/** Runbooks from Discord: typed options, autocomplete of names and enum values, TESTUM_MODE=allowlist. */
let world: DiscordWorld;
const operator: Member = { id: snowflake(), username: "olga" };
const MARKER = `/tmp/testum-rb-discord-${randomBytes(4).toString("hex")}`;

beforeAll(async () => {
  world = await startDiscordWorld({ hosts: 1, testum: { env: { TESTUM_MODE: "allowlist" } } });
  await world.addHost("web-1", world.ssh.hosts[0]!);
  await grant(world.testum.sql, "test", `discord:${world.discord.guildId}:${operator.id}`, "operator", "web-1");
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

async function output(answerText: string): Promise<string> {
  const job = await world.finished(jobIdFrom(answerText));
  expect(job.status, answerText).toBe("succeeded");
  const [task] = await world.tasks(job.id);
  return task!.tail ?? "";
}

const typing = (member: Member, focused: string, options: Record<string, string>) => autocompleteInteraction({ ...world.base(member), subcommand: "rb", focused, options });

describe("runbooks from Discord", () => {
  it("registers rb with autocomplete of runbook names and parameters, and runbook add with its choices", () => {
    const command = buildDiscordCommand();
    const rb = command.options!.find((o) => o.name === "rb") as unknown as { options: Array<Record<string, unknown>> };
    expect(rb.options).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "runbook", type: 3, required: true, autocomplete: true }),
        expect.objectContaining({ name: "params", type: 3, required: false, autocomplete: true }),
        expect.objectContaining({ name: "dry-run", type: 5 }),
      ]),
    );
    const group = command.options!.find((o) => o.name === "runbook") as unknown as { type: number; options: Array<{ name: string; options?: Array<Record<string, unknown>> }> };
    expect(group.type).toBe(2);
    const add = group.options.find((o) => o.name === "add")!;
    expect(add.options).toContainEqual(expect.objectContaining({ name: "approval", choices: ["auto", "always", "reviewed"].map((c) => ({ name: c, value: c })) }));
  });

  it("adds a runbook with typed options, completes its name and its enum values, and runs it", async () => {
    const added = await world.command(["runbook", "add"], {
      runbook: "restart",
      target: "web-1",
      command: "echo restarting {service:enum(nginx,postgres)} {note}",
      description: "Restart a service",
      approval: "reviewed",
    });
    expect(added.text).toContain("Runbook restart added. Run it with: /testum rb restart service=nginx note=…");
    expect((await world.send(typing(operator, "runbook", { runbook: "re" }))).json).toEqual({ type: 8, data: { choices: [{ name: "restart", value: "restart" }] } });
    expect((await world.send(typing(operator, "params", { runbook: "restart", params: "" }))).json).toEqual({
      type: 8,
      data: { choices: ["service=nginx", "service=postgres", "note="].map((c) => ({ name: c, value: c })) },
    });
    expect((await world.send(typing(operator, "params", { runbook: "restart", params: "service=p" }))).json).toEqual({
      type: 8,
      data: { choices: [{ name: "service=postgres", value: "service=postgres" }] },
    });
    expect((await world.send(typing(operator, "params", { runbook: "restart", params: "service=nginx n" }))).json).toEqual({
      type: 8,
      data: { choices: [{ name: "service=nginx note=", value: "service=nginx note=" }] },
    });
    // Someone without any role is offered nothing.
    const stranger: Member = { id: snowflake(), username: "mallory" };
    expect((await world.send(typing(stranger, "runbook", { runbook: "" }))).json).toEqual({ type: 8, data: { choices: [] } });

    const ran = await world.command(["rb"], { runbook: "restart", params: "service=postgres note=now" }, operator);
    expect(await output(ran.text)).toBe("restarting postgres now");
  });

  it("passes injection attempts in parameters to the host as literal text", async () => {
    for (const value of [`; touch ${MARKER}`, `$(touch ${MARKER})`, `\`touch ${MARKER}\``, `a'b"c`]) {
      const params = `service=nginx "note=${value.replace(/"/g, '\\"')}"`;
      const ran = await world.command(["rb"], { runbook: "restart", params }, operator);
      expect(await output(ran.text), value).toBe(`restarting nginx ${value}`);
    }
    expect(existsSync(MARKER)).toBe(false);
  });

  it("says which parameter is wrong, and refuses free-form commands to an operator in allowlist mode", async () => {
    const wrong = await world.command(["rb"], { runbook: "restart", params: "service=mysql note=x" }, operator);
    expect(wrong.text).toContain('runbook restart: parameter service got "mysql", expected one of nginx, postgres. Nothing was run.');
    const free = await world.command(["run"], { target: "web-1", command: "id" }, operator);
    expect(free.text).toMatch(/Not allowed: you need free-form \(the free-form right\)/);
    const admin = await world.command(["run"], { target: "web-1", command: "echo admin" });
    expect(await output(admin.text)).toBe("admin");
  });
});
