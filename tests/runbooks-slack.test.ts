import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_TEAM_ID } from "./fakes/slack-api.js";
import { ADMIN_IDENTITY, jobIdFrom, startSlackWorld, type SlackWorld, answerText } from "./helpers/slack-world.js";
import { eventually } from "./helpers/testum.js";

/**
 * Runbooks from Slack, with TESTUM_MODE=allowlist: an admin defines them,
 * an operator runs them (and nothing else), parameters arrive at the host
 * as literal text whatever they hold.
 */
let world: SlackWorld;
const OPS = "U0OPS000001";
const OPS_IDENTITY = `slack:${DEFAULT_TEAM_ID}:${OPS}`;
/** A file that exists only if a parameter was run as shell code. */
const MARKER = `/tmp/testum-rb-injected-${randomBytes(4).toString("hex")}`;

/** Runs `rb …` as `user`, waits for the job and returns its output. */
async function runbookOutput(line: string, user = OPS): Promise<{ reply: string; output: string; job: number }> {
  const reply = answerText(await world.slash(line, user));
  const job = await world.finished(jobIdFrom(reply));
  expect(job.status, reply).toBe("succeeded");
  const [task] = await world.tasks(job.id);
  return { reply, output: task!.tail ?? "", job: job.id };
}

beforeAll(async () => {
  world = await startSlackWorld({ hosts: 1, testum: { env: { TESTUM_MODE: "allowlist" }, runOptions: { sweepEveryMs: 500, scheduleSyncMs: 300 } } });
  world.slack.setRateLimit("chat.update", { perMinute: 6000, burst: 200, scope: "team" });
  world.slack.setRateLimit("chat.postMessage", { perMinute: 6000, burst: 200, scope: "channel" });
  await world.addHost("web-1", world.ssh.hosts[0]!);
  expect(answerText(await world.slash(`grant <@${OPS}> operator on web-1`))).toContain("is now operator on web-1");
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

describe("runbooks from Slack", () => {
  it("lets an admin add a runbook, and lists and shows it with its parameters", async () => {
    const added = answerText(await world.slash(`runbook add echo web-1 'printf "got:[%s]\\n" {msg}' --description 'Print a message'`));
    expect(added).toContain("Runbook echo added. Run it with: /testum rb echo msg=…");
    const check = answerText(
      await world.slash(`runbook add check web-1 'echo {service:enum(nginx,postgres)} {lines:int(1..1000)} {file:path}' --description 'Check a log' --role operator`),
    );
    expect(check).toContain("Runbook check added. Run it with: /testum rb check service=nginx lines=1 file=…");
    const list = answerText(await world.slash("runbook list", OPS));
    expect(list).toContain("2 runbooks");
    expect(list).toMatch(/check\s+web-1\s+operator\s+Check a log/);
    const show = answerText(await world.slash("runbook show check", OPS));
    expect(show).toContain("lines: int(1..1000) — a whole number from 1 to 1000");
    expect(show).toContain("service: enum(nginx,postgres) — one of nginx, postgres");
    const [audit] = await world.testum.sql`select actor, outcome, target, detail from audit where action = 'runbook.add' order by id limit 1`;
    expect(audit).toMatchObject({ actor: ADMIN_IDENTITY, outcome: "added", target: "web-1", detail: { runbook: "echo", command: 'printf "got:[%s]\\n" {msg}' } });
    // Only admins define runbooks.
    expect(answerText(await world.slash(`runbook add mine web-1 'id'`, OPS))).toMatch(/Not allowed: you need admin/);
  });

  it("runs parameters as literal text: separators, substitutions, backticks, newlines and quotes", async () => {
    const attempts = [`; touch ${MARKER}`, `$(touch ${MARKER})`, `\`touch ${MARKER}\``, `x\ntouch ${MARKER}`, `it's "quoted" '; touch ${MARKER}; '`, `| touch ${MARKER} && echo`];
    for (const value of attempts) {
      // Double quotes around the value in chat, with \" for its own double quotes.
      const { output, job } = await runbookOutput(`rb echo "msg=${value.replace(/"/g, '\\"')}"`);
      expect(output, value).toBe(`got:[${value}]`);
      const [row] = await world.testum.sql`select command from jobs where id = ${job}`;
      expect(row!.command).toMatch(/^printf "got:\[%s\]\\n" '/);
    }
    expect(existsSync(MARKER)).toBe(false);
    const [audit] = await world.testum.sql`select actor, outcome, detail from audit where action = 'job.request' and detail->>'runbook' = 'echo' order by id limit 1`;
    expect(audit).toMatchObject({ actor: OPS_IDENTITY, outcome: "accepted", detail: { runbook: "echo", params: { msg: `; touch ${MARKER}` } } });
  });

  it("names the parameter, what was given and what was expected, and runs nothing", async () => {
    const before = await world.testum.sql`select count(*)::int as n from jobs`;
    expect(answerText(await world.slash("rb check service=mysql lines=10 file=/var/log/syslog", OPS))).toContain(
      'runbook check: parameter service got "mysql", expected one of nginx, postgres. Nothing was run.',
    );
    expect(answerText(await world.slash("rb check service=nginx lines=5000 file=/var/log/syslog", OPS))).toContain(
      'parameter lines got "5000", expected a whole number from 1 to 1000',
    );
    expect(answerText(await world.slash("rb check service=nginx lines=ten file=/var/log/syslog", OPS))).toContain('parameter lines got "ten"');
    expect(answerText(await world.slash("rb check service=nginx lines=10 file=../../etc/shadow", OPS))).toContain('parameter file got "../../etc/shadow", expected a path');
    expect(answerText(await world.slash("rb check service=nginx lines=10", OPS))).toContain("parameter file is missing");
    expect(answerText(await world.slash("rb check service=nginx lines=10 file=/x user=root", OPS))).toContain("runbook check has no parameter user");
    expect(answerText(await world.slash("rb check nginx", OPS))).toContain('"nginx" is not a parameter: write key=value');
    expect(answerText(await world.slash("rb nope", OPS))).toContain('there is no runbook "nope"');
    const after = await world.testum.sql`select count(*)::int as n from jobs`;
    expect(after[0]!.n).toBe(before[0]!.n);
    const { output } = await runbookOutput("rb check service=postgres lines=20 file=/var/log/syslog");
    expect(output).toBe("postgres 20 /var/log/syslog");
  });

  it("in allowlist mode refuses an operator's own commands, and allows them to admins and to the free-form role", async () => {
    const refused = answerText(await world.slash("run web-1 'id'", OPS));
    expect(refused).toMatch(/Not allowed: you need free-form \(the free-form right\)/);
    expect(answerText(await world.slash("script web-1 ```id```", OPS))).toMatch(/you need free-form/);
    expect(answerText(await world.slash(`schedule add "0 8 * * *" web-1 'id'`, OPS))).toMatch(/you need free-form/);
    const [row] = await world.testum.sql`select outcome, detail from audit where actor = ${OPS_IDENTITY} and action = 'job.request' and outcome = 'refused' order by id limit 1`;
    expect(row).toMatchObject({ outcome: "refused", detail: { right: "free-form" } });
    // An admin may, and so may someone given free-form on the host.
    expect(answerText(await world.slash("run web-1 'echo admin'"))).toMatch(/Job #\d+ queued on web-1/);
    expect(answerText(await world.slash(`grant <@${OPS}> free-form on web-1`))).toContain("is now free-form on web-1");
    expect(answerText(await world.slash("run web-1 'echo mine'", OPS))).toMatch(/Job #\d+ queued on web-1/);
    expect(answerText(await world.slash(`revoke <@${OPS}> free-form on web-1`))).toContain("no longer free-form on web-1");
    expect(answerText(await world.slash("run web-1 'echo mine'", OPS))).toMatch(/you need free-form/);
  });

  it("does not fire a schedule of an operator's own command in allowlist mode", async () => {
    // Made before the mode changed: every fire checks the owner's free-form right.
    const [schedule] = await world.testum.sql<{ id: number }[]>`
      insert into schedules (name, cron, timezone, target, command, channel, owner, owner_name, owner_groups, on_change, timeout_ms, approval_state, approval_reasons, lang)
      values ('old-report', '*/2 * * * * *', 'UTC', 'web-1', 'echo free-form', ${`slack:${DEFAULT_TEAM_ID}:C0000000001`}, ${OPS_IDENTITY}, 'ops', '[]', false, 60000, 'none', '[]', 'en')
      returning id`;
    const fire = await eventually("a fire of the old schedule", async () => {
      const [row] = await world.testum.sql`select outcome, job_id from schedule_fires where schedule_id = ${schedule!.id} and outcome <> 'starting' limit 1`;
      return row;
    });
    expect(fire).toEqual({ outcome: "refused", jobId: null });
    await world.testum.sql`delete from schedules where id = ${schedule!.id}`;
  });

  it("runs a runbook only for the role it asks for, on every host of its target", async () => {
    await world.slash(`runbook add admin-only web-1 'echo admin' --role admin`);
    expect(answerText(await world.slash("rb admin-only", OPS))).toMatch(/Not allowed: you need admin \(the admin right\)/);
    expect(answerText(await world.slash("rb echo msg=hi", "U0STRANGER1"))).toMatch(/Not allowed: you need operator/);
    const [row] = await world.testum.sql`select outcome, target, detail from audit where action = 'job.request' and actor = ${`slack:${DEFAULT_TEAM_ID}:U0STRANGER1`}`;
    expect(row).toMatchObject({ outcome: "refused", target: "web-1", detail: { runbook: "echo" } });
  });

  it("asks for an approval of every run of a runbook that says so", async () => {
    await world.slash(`runbook add careful web-1 'echo careful {n:int}' --approval always`);
    const reply = answerText(await world.slash("rb careful n=3", OPS));
    expect(reply).toMatch(/needs approval/i);
    expect(reply).toContain("runbook careful asks for an approval of every run");
    const job = await world.job(jobIdFrom(reply));
    expect(job.status).toBe("awaiting_approval");
    expect(job.command).toBe("echo careful 3");
  });

  it("runs a runbook on a schedule, as the runbook is at each fire, and keeps the runbook while a schedule uses it", async () => {
    const added = answerText(await world.slash(`schedule rb "*/2 * * * * *" echo msg=scheduled --name rb-report`, OPS));
    const id = Number(/Schedule #(\d+)/.exec(added)?.[1]);
    expect(added).toContain('"rb-report"');
    const first = await eventually("a scheduled run of the runbook", async () => {
      const [job] = await world.testum.sql<{ id: number; command: string; status: string }[]>`
        select id, command, status from jobs where schedule_id = ${id} and status = 'succeeded' order by id limit 1`;
      return job;
    });
    expect(first.command).toBe('printf "got:[%s]\\n" scheduled');
    const [task] = await world.tasks(first.id);
    expect(task!.tail).toBe("got:[scheduled]");
    expect(answerText(await world.slash(`schedule show ${id}`, OPS))).toContain("runbook:   echo msg=scheduled");
    expect(answerText(await world.slash("runbook rm echo"))).toContain(`runbook echo is run by schedules #${id}; remove those first`);
    // The runbook changes: the next fires run it as it is now.
    await world.slash(`runbook add echo web-1 'printf "now:[%s]\\n" {msg}' --replace`);
    await eventually("a run of the changed runbook", async () => {
      const [job] = await world.testum.sql`select id from jobs where schedule_id = ${id} and command = ${'printf "now:[%s]\\n" scheduled'} limit 1`;
      return job;
    });
    expect(answerText(await world.slash(`schedule rm ${id}`, OPS))).toContain(`Deleted schedule #${id} "rb-report".`);
    expect(answerText(await world.slash("runbook rm echo"))).toContain("Runbook echo removed.");
    const [audit] = await world.testum.sql`select outcome from audit where action = 'runbook.remove' and detail->>'runbook' = 'echo'`;
    expect(audit!.outcome).toBe("removed");
  });

  it("says the commands in help", async () => {
    const help = answerText(await world.slash("help runbook", OPS));
    expect(help).toContain("/testum runbook add");
    expect(help).toContain("Add a runbook: an agreed command with typed parameters");
    expect(answerText(await world.slash("help rb", OPS))).toContain("/testum rb RUNBOOK [KEY=VALUE…] [--timeout DURATION]");
  });
});
