import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BLOCK_END, BLOCK_START } from "../src/core/hosts/authorized-keys.js";
import { DEFAULT_TEAM_ID } from "./fakes/slack-api.js";
import { postSignedSlack, viewSubmissionBody } from "./helpers/slack-sign.js";
import { ADMIN, blockText, CHANNEL, jobIdFrom, SIGNING_SECRET, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { eventually } from "./helpers/testum.js";

let world: SlackWorld;
const logLines: string[] = [];

function keygen(comment: string) {
  const dir = mkdtempSync(join(tmpdir(), "team-key-"));
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", join(dir, "k")], { timeout: 30_000 });
  return { pub: readFileSync(join(dir, "k.pub"), "utf8").trim(), priv: readFileSync(join(dir, "k"), "utf8") };
}

function text(res: { json?: Record<string, unknown> | undefined }): string {
  return `${String(res.json?.text ?? "")}\n${blockText((res.json?.blocks as Record<string, unknown>[]) ?? [])}`;
}

beforeAll(async () => {
  world = await startSlackWorld({ hosts: 3, testum: { logLines } });
  // web-1 and web-2 are added from chat and trust testum's identity key once it is on them.
  for (const [i, name] of [
    [0, "web-1"],
    [1, "web-2"],
  ] as const) {
    const host = world.ssh.hosts[i]!;
    const res = await world.slash(`hosts add ${name} ${world.ssh.user}@127.0.0.1:${host.port} role=web`);
    expect(text(res)).toContain(`Added ${name}`);
  }
  await world.addHost("db-1", world.ssh.hosts[2]!);
});

afterAll(async () => {
  await world?.stop();
});

describe("hosts from chat and testum's identity", () => {
  it("a host added from chat works once testum's public key is on it", async () => {
    const identity = text(await world.slash("identity"));
    const line = /(ssh-ed25519 \S+ testum@\S+)/.exec(identity)?.[1];
    expect(line).toBeDefined();
    const before = text(await world.slash("hosts test web-1"));
    expect(before).toContain("authentication: not accepted");
    expect(before).toMatch(/host key:\s+SHA256:/);

    await world.ssh.hosts[0]!.exec(`printf '%s\\n' '${line}' >> ~/.ssh/authorized_keys`);
    const after = text(await world.slash("hosts test web-1"));
    expect(after).toContain("authentication: accepted");
    expect(after).toMatch(/latency:\s+\d+ ms/);
    expect(after).toContain(world.ssh.hosts[0]!.hostKeyFingerprint);

    const res = await world.slash("run web-1 'echo hello from $(hostname)'");
    const job = await world.finished(jobIdFrom(text(res)));
    expect(job.status).toBe("succeeded");
    const show = text(await world.slash("hosts show web-1"));
    expect(show).toContain("testum's identity key");
    expect(show).toContain("role=web");
  });

  it("tags and untags hosts", async () => {
    expect(text(await world.slash("hosts tag web-2 env=prod tier=1"))).toContain("env=prod");
    expect(text(await world.slash("hosts untag web-2 tier"))).not.toContain("tier=1");
    expect(text(await world.slash("hosts untag web-2 nope"))).toContain("has no tag nope");
  });
});

describe("team keys in authorized_keys", () => {
  const alice = keygen("alice@laptop");
  const bob = keygen("bob@desk");
  const foreign = "# added by hand\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFOREIGNFOREIGNFOREIGNFOREIGNFOREIGNFOREIGNxx carol@old\n";
  let foreignPrefix = "";

  it("registers public keys and refuses a pasted private key without keeping it anywhere", async () => {
    expect(text(await world.slash(`keys add alice ${alice.pub}`))).toContain("Added key alice");
    expect(text(await world.slash(`keys add bob ${bob.pub}`))).toContain("Added key bob");
    expect(text(await world.slash(`keys add bob2 ${bob.pub}`))).toContain("already registered as bob");

    const secretLine = alice.priv.split("\n")[2]!;
    const refused = await world.slash(`keys add mallory ${alice.priv}`);
    expect(text(refused)).toContain("That is a PRIVATE key");
    expect(text(refused)).toContain("rotate it");
    expect(JSON.stringify(refused.json)).not.toContain(secretLine);

    const dump = await world.testum.sql`
      select (select coalesce(json_agg(a), '[]') from audit a) as audit,
             (select coalesce(json_agg(k), '[]') from team_keys k) as keys,
             (select coalesce(json_agg(j), '[]') from jobs j) as jobs`;
    expect(JSON.stringify(dump)).not.toContain(secretLine);
    expect(JSON.stringify(dump)).not.toContain("mallory");
    expect(logLines.join("\n")).not.toContain(secretLine);
    const chat = JSON.stringify([world.slack.messages(), world.slack.ephemerals(), world.slack.responses()]);
    expect(chat).not.toContain(secretLine);
    const [{ n }] = (await world.testum.sql`select count(*)::int as n from audit where action = 'command' and outcome = 'refused'`) as unknown as [{ n: number }];
    expect(n).toBe(1);
  });

  it("deploys atomically into testum's block, leaving foreign lines byte for byte, and a second deploy changes nothing", async () => {
    const host = world.ssh.hosts[2]!;
    const original = (await host.exec("cat ~/.ssh/authorized_keys")).stdout;
    foreignPrefix = original + foreign;
    await host.exec(`printf '%s' '${foreign}' >> ~/.ssh/authorized_keys; chmod 644 ~/.ssh/authorized_keys; chmod 755 ~/.ssh`);

    const first = text(await world.slash("keys deploy alice db-1"));
    expect(first).toMatch(/✓ db-1\s+added 1/);
    const content = (await host.exec("cat ~/.ssh/authorized_keys")).stdout;
    expect(content.startsWith(foreignPrefix)).toBe(true);
    expect(content).toContain(`${BLOCK_START}\n${alice.pub} testum:key:alice\n${BLOCK_END}\n`);
    const modes = (await host.exec("stat -c '%a %U' ~/.ssh ~/.ssh/authorized_keys")).stdout.trim().split("\n");
    expect(modes).toEqual([`700 ${world.ssh.user}`, `600 ${world.ssh.user}`]);
    expect((await host.exec("ls -a ~/.ssh")).stdout).not.toMatch(/testum\./);

    const second = text(await world.slash("keys deploy alice db-1"));
    expect(second).toMatch(/✓ db-1\s+unchanged/);
    expect((await host.exec("cat ~/.ssh/authorized_keys")).stdout).toBe(content);
    // The deployed key logs in.
    const aliceKey = mkdtempSync(join(tmpdir(), "alice-"));
    const keyFile = join(aliceKey, "id");
    execFileSync("sh", ["-c", `cat > ${keyFile} && chmod 600 ${keyFile}`], { input: alice.priv });
    const login = execFileSync(
      "ssh",
      [
        "-i",
        keyFile,
        "-p",
        String(host.port),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "LogLevel=ERROR",
        `${world.ssh.user}@127.0.0.1`,
        "echo in",
      ],
      { encoding: "utf8", timeout: 30_000 },
    );
    expect(login.trim()).toBe("in");
  });

  it("serialises two deploys to one host so both keys land", async () => {
    const [a, b] = await Promise.all([world.slash("keys deploy bob db-1"), world.slash("keys revoke alice db-1")]);
    expect(text(a)).toMatch(/✓ db-1/);
    expect(text(b)).toMatch(/✓ db-1/);
    const content = (await world.ssh.hosts[2]!.exec("cat ~/.ssh/authorized_keys")).stdout;
    expect(content.startsWith(foreignPrefix)).toBe(true);
    expect(content).toContain(`${bob.pub} testum:key:bob`);
    expect(content).not.toContain(alice.pub);
  });

  it("revokes only the named key and reports status per host", async () => {
    await world.slash("keys deploy all db-1");
    const revoked = text(await world.slash("keys revoke bob db-1"));
    expect(revoked).toMatch(/removed 1/);
    const content = (await world.ssh.hosts[2]!.exec("cat ~/.ssh/authorized_keys")).stdout;
    expect(content).toContain(`${alice.pub} testum:key:alice`);
    expect(content).not.toContain(bob.pub);
    expect(content.startsWith(foreignPrefix)).toBe(true);
    const status = text(await world.slash("keys status db-1"));
    expect(status).toContain("present: alice");
    expect(status).toContain("missing: none");
    expect(status).toMatch(/2 lines not managed by testum/);
    // A managed line removed by hand shows up as missing.
    await world.ssh.hosts[2]!.exec("sed -i '/testum:key:alice/d' ~/.ssh/authorized_keys");
    expect(text(await world.slash("keys status db-1"))).toContain("missing: alice");
    expect(text(await world.slash("keys rm alice"))).toContain("still deployed on db-1");
  });
});

describe("host keys and credentials", () => {
  it("refuses a regenerated host key until hosts repin, which is audited", async () => {
    const host = world.ssh.hosts[2]!;
    const old = host.hostKeyFingerprint;
    const fresh = await host.regenerateHostKey();
    const refused = await world.finished(jobIdFrom(text(await world.slash("run db-1 'true'"))));
    expect(refused.status).toBe("failed");
    // hosts test wraps its long lines to fit a message: read it as words.
    const tested = text(await world.slash("hosts test db-1")).replace(/\s+/g, " ");
    expect(tested).toContain("has CHANGED");
    // The way out, as chat takes it.
    expect(tested).toContain("an admin can accept the new key with /testum hosts repin db-1.");

    const shown = text(await world.slash("hosts repin db-1"));
    expect(shown).toContain(`old: ${old}`);
    expect(shown).toContain(`presented now: ${fresh}`);
    const repin = text(await world.slash(`hosts repin db-1 ${fresh}`));
    expect(repin).toContain(`old: ${old}`);
    expect(repin).toContain(`new: ${fresh}`);
    const ok = await world.finished(jobIdFrom(text(await world.slash("run db-1 'true'"))));
    expect(ok.status).toBe("succeeded");
    const [row] = await world.testum.sql`select detail from audit where action = 'host_key.repin' and outcome = 'repinned'`;
    expect(row!.detail).toEqual({ old, new: fresh });
  });

  it("takes a password through a private form and never echoes it", async () => {
    const opened = await world.slash("hosts secret web-2");
    expect(opened.status).toBe(200);
    const view = await eventually("the modal to open", () => world.slack.views().at(-1));
    expect(JSON.stringify(view.view)).toContain("Private key");
    const password = world.ssh.password;
    const raw = viewSubmissionBody({
      teamId: DEFAULT_TEAM_ID,
      userId: ADMIN,
      viewId: view.id,
      callbackId: String(view.view.callback_id),
      privateMetadata: CHANNEL,
      values: { password, private_key: "", passphrase: "" },
    });
    const res = await postSignedSlack(`${world.testum.url}/slack/events`, raw, SIGNING_SECRET);
    expect(res.status).toBe(200);
    expect(res.body).not.toContain(password);
    const [host] = await world.testum.sql`select auth_method from hosts where name = 'web-2'`;
    expect(host!.authMethod).toBe("password");
    const dump = JSON.stringify(await world.testum.sql`select * from secrets`);
    expect(dump).not.toContain(password);
    expect(logLines.join("\n")).not.toContain(password);
    const [audit] = await world.testum.sql`select detail from audit where action = 'host.credential' and target = 'web-2'`;
    expect(audit!.detail).toEqual({ kind: "password" });
    // A password goes only to a host whose key an admin confirmed: web-2's was never pinned.
    expect(text(await world.slash("hosts test web-2")).replace(/\s+/g, " ")).toContain("does not send a password to a host it cannot verify");
    const fingerprint = world.ssh.hosts[1]!.hostKeyFingerprint;
    expect(text(await world.slash("hosts repin web-2"))).toContain(`presented now: ${fingerprint}`);
    expect(text(await world.slash(`hosts repin web-2 ${fingerprint}`))).toContain(`new: ${fingerprint}`);
    // testum now logs in to web-2 with the password.
    const job = await world.finished(jobIdFrom(text(await world.slash("run web-2 'echo with password'"))));
    expect(job.status).toBe("succeeded");
  });
});
