import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandInteraction, componentInteraction, snowflake } from "./helpers/discord-sign.js";
import { DISCORD_TRANSPORTS, jobIdFrom, messageText, startDiscordWorld, type DiscordWorld, type Member } from "./helpers/discord-world.js";
import { eventually } from "./helpers/testum.js";

describe.each(DISCORD_TRANSPORTS)("over %s", (transport) => {
  let world: DiscordWorld;
  let opsRole: string;
  let requester: Member;
  let approver: Member;
  let outsider: Member;

  /** `/testum grant` with a picked user or role, as Discord sends a mentionable option. */
  function grantPicked(pickedId: string, kind: "user" | "role", role: string) {
    const payload = commandInteraction({ ...world.base(), subcommand: "grant", options: { subject: pickedId, role } });
    const option = (payload.data.options![0] as { options: Array<{ name: string; type: number }> }).options.find((o) => o.name === "subject")!;
    option.type = 9; // MENTIONABLE
    (payload.data as { resolved?: unknown }).resolved =
      kind === "role" ? { roles: { [pickedId]: { id: pickedId, name: "ops", permissions: "0" } } } : { users: { [pickedId]: { id: pickedId, username: "picked" } } };
    return world.send(payload);
  }

  beforeAll(async () => {
    world = await startDiscordWorld({ hosts: 1, transport });
    await world.addHost("web-1", world.ssh.hosts[0]!);
    opsRole = world.discord.createRole(world.discord.guildId, { name: "ops" });
    requester = { id: snowflake(), username: "rita" };
    approver = { id: snowflake(), username: "omar", roles: [opsRole] };
    outsider = { id: snowflake(), username: "otto" };
    for (const m of [requester, approver, outsider]) world.discord.addMember(world.discord.guildId, m.id, { username: m.username, roles: m.roles ?? [] });
  });

  afterAll(async () => {
    await world?.stop();
  });

  describe("roles and approvals on Discord", () => {
    it("binds roles to picked users and Discord roles", async () => {
      expect((await grantPicked(opsRole, "role", "approver")).text).toContain(`discord:${world.discord.guildId}:role:${opsRole} is now approver on *`);
      expect((await grantPicked(requester.id, "user", "operator")).text).toContain(`discord:${world.discord.guildId}:${requester.id} is now operator on *`);
      expect((await world.command(["whoami"], {}, approver)).text).toContain(`approver on * (via discord:${world.discord.guildId}:role:${opsRole})`);
      expect((await world.command(["run"], { target: "web-1", command: "uptime" }, outsider)).text).toMatch(/Not allowed: you need operator/);
    });

    it("asks for approval; the requester and a member without the role are refused; the role's member approves and it runs once", async () => {
      const asked = await world.command(["run"], { target: "web-1", command: "rm -rf ~/discord-target; echo ran >> ~/discord-runs" }, requester);
      expect(asked.text).toContain("needs approval");
      const jobId = jobIdFrom(asked.text);
      const job = await eventually("the request", async () => ((await world.job(jobId)).approvalMessage ? world.job(jobId) : undefined));
      const requestId = job.approvalMessage!.split(":").at(-1)!;
      const message = world.discord.message(requestId)!;
      const buttons = (message.components as unknown as Array<{ components: Array<{ custom_id: string }> }>)[0]!.components.map((c) => c.custom_id);
      expect(buttons).toEqual([`t1:approve:${jobId}`, `t1:reject:${jobId}`]);
      expect(message.channel_id).toBe(job.thread!.split(":").at(-1));

      const click = (member: Member) => world.send(componentInteraction({ ...world.base(member), channelId: message.channel_id, customId: `t1:approve:${jobId}`, message }));
      const self = await click(requester);
      expect(self.body?.data?.flags).toBe(64);
      expect(self.text).toContain("you asked for job");
      expect((await click(outsider)).text).toMatch(/you need approver \(the approve right\)/);
      expect((await world.job(jobId)).status).toBe("awaiting_approval");

      const ok = await click(approver);
      expect(ok.text).toContain(`You approved job #${jobId}`);
      expect((await world.finished(jobId)).status).toBe("succeeded");
      await eventually("the request to show who approved", () => /approved by omar/.test(messageText(world.discord.message(requestId))));
      expect(world.discord.message(requestId)!.components ?? []).toEqual([]);
      expect((await world.ssh.hosts[0]!.exec("cat ~/discord-runs")).stdout).toBe("ran\n");
      expect(world.discord.pings()).toEqual([]);
    });
  });
});
