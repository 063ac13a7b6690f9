import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSecret } from "../src/core/hosts/secrets.js";
import { DEFAULT_TEAM_ID } from "./fakes/slack-api.js";
import { postSignedSlack, viewSubmissionBody } from "./helpers/slack-sign.js";
import { ADMIN, blockText, CHANNEL, SIGNING_SECRET, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { eventually } from "./helpers/testum.js";
import { testBox } from "./helpers/hosts.js";

let world: SlackWorld;

function text(res: { json?: Record<string, unknown> | undefined }): string {
  return `${String(res.json?.text ?? "")}\n${blockText((res.json?.blocks as Record<string, unknown>[]) ?? [])}`;
}

/** Opens a form with `command` and submits `values` to it as the admin; returns the submission's answer. */
async function submitForm(command: string, values: Record<string, string>) {
  const before = world.slack.views().length;
  await world.slash(command);
  const view = await eventually("the modal to open", () => (world.slack.views().length > before ? world.slack.views().at(-1) : undefined));
  const raw = viewSubmissionBody({ teamId: DEFAULT_TEAM_ID, userId: ADMIN, viewId: view.id, callbackId: String(view.view.callback_id), privateMetadata: CHANNEL, values });
  return postSignedSlack(`${world.testum.url}/slack/events`, raw, SIGNING_SECRET);
}

beforeAll(async () => {
  world = await startSlackWorld({ hosts: 1 });
  await world.addHost("h1", world.ssh.hosts[0]!);
});

afterAll(async () => {
  await world?.stop();
});

describe("small hardening", () => {
  it("refuses to replace a symlinked authorized_keys, leaving the link and its file as they were", async () => {
    const host = world.ssh.hosts[0]!;
    const pub = readFileSync(`${world.ssh.clientKeyPath}.pub`, "utf8").trim();
    expect(text(await world.slash(`keys add ops ${pub.replace(/\S+$/, "ops@desk")}`))).toContain("Added key ops");
    await host.exec("cp ~/.ssh/authorized_keys ~/.ssh/real_keys && ln -sf real_keys ~/.ssh/authorized_keys");
    const before = (await host.exec("cat ~/.ssh/real_keys")).stdout;
    const deploy = text(await world.slash("keys deploy ops h1"));
    expect(deploy, deploy).toMatch(/✗ h1.*symbolic link; testum does not replace it/);
    expect((await host.exec("readlink ~/.ssh/authorized_keys")).stdout.trim()).toBe("real_keys");
    expect((await host.exec("cat ~/.ssh/real_keys")).stdout).toBe(before);
  });
  // Last: h1 logs in with this password afterwards, which the test host does not accept.
  it("keeps a password exactly as typed, spaces included", async () => {
    const res = await submitForm("hosts secret h1", { password: "  spaced pass  ", private_key: "", passphrase: "" });
    expect(res.status).toBe(200);
    const [host] = await world.testum.sql<{ secretId: string; authMethod: string }[]>`select secret_id, auth_method from hosts where name = 'h1'`;
    expect(host!.authMethod).toBe("password");
    const credential = await readSecret(world.testum.sql, testBox(), host!.secretId);
    expect(credential).toEqual({ type: "password", password: "  spaced pass  " });
  });

  it("screens a script form for private keys like a typed command, and stores nothing of it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pk-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "k")], { timeout: 30_000 });
    const key = readFileSync(join(dir, "k"), "utf8");
    const secretLine = key.split("\n")[2]!;
    const res = await submitForm("script h1", { script: `cat > /tmp/k <<'EOF'\n${key}EOF` });
    expect(res.body).toContain("PRIVATE key");
    const dump = JSON.stringify(
      await world.testum.sql`select (select coalesce(json_agg(j), '[]') from jobs j) as jobs, (select coalesce(json_agg(a), '[]') from audit a) as audit`,
    );
    expect(dump).not.toContain(secretLine);
    const [{ n }] = (await world.testum.sql`select count(*)::int as n from jobs`) as unknown as [{ n: number }];
    expect(n).toBe(0);
  });
});
