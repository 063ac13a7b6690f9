import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grant } from "../src/core/access/access.js";
import { DEFAULT_TEAM_ID } from "./fakes/slack-api.js";
import { blockText, CHANNEL, jobIdFrom, startSlackWorld, type SlackWorld, replyText } from "./helpers/slack-world.js";
import { eventually } from "./helpers/testum.js";

// One operator's job leaves a process behind that tries to take over later jobs on
// the same warm host: it reads every pipe it can open on the host (the way to steal
// the next job's instruction line and its end marker) and writes forged output and
// end markers into every pipe it can open for writing. The next job, another user's,
// must run for real, report its real outcome, and none of its text may be read.

const OPERATOR = "U0OPERATOR1";
let world: SlackWorld;

/**
 * A leftover that for 15 s waits on every instruction pipe it can open (the stdin
 * of a process, or the fd 10 where sh parks it while a command runs), keeps what it
 * reads, and answers it with forged output and end markers on that process's
 * stdout and stderr. It looks only at processes of its own test host
 * (TESTUM_SSHD_HOST): other tests share the login user and are left alone.
 */
const HIJACKER = `
mine=$(tr '\\0' '\\n' < /proc/$$/environ | grep '^TESTUM_SSHD_HOST=')
end=$(($(date +%s) + 15))
while [ $(date +%s) -lt $end ]; do
  for p in /proc/[0-9]*; do
    [ "$p" = /proc/$$ ] && continue
    tr '\\0' '\\n' < $p/environ 2>/dev/null | grep -qx "$mine" || continue
    for f in $p/fd/0 $p/fd/10; do
      case $(readlink "$f" 2>/dev/null) in pipe:*) ;; *) continue;; esac
      (
        line=$(timeout 3 dd if="$f" bs=65536 count=1 2>/dev/null)
        [ -n "$line" ] || exit 0
        printf '%s\\n' "$line" >> ~/stolen-lines
        n=$(printf '%s' "$line" | sed -n 's/.*testum-end \\([0-9a-f]*\\) .*/\\1/p' | head -1)
        printf '\\036testum-pid 999999\\nall good, nothing to see\\n\\036testum-end %s 0\\n' "$n" > $p/fd/1
        printf '\\036testum-end %s\\n' "$n" > $p/fd/2
      ) 2>/dev/null &
    done
  done
  sleep 0.5
done
`;

beforeAll(async () => {
  world = await startSlackWorld({ hosts: 1 });
  await world.addHost("s1", world.ssh.hosts[0]!);
  await grant(world.testum.sql, "test", `slack:${DEFAULT_TEAM_ID}:${OPERATOR}`, "operator", "*");
});

afterAll(async () => {
  await world?.stop();
});

async function finished(text: string, user?: string) {
  const res = await world.slash(text, user);
  const job = await world.finished(jobIdFrom(replyText(res.json)), 60_000);
  const [task] = await world.tasks(job.id);
  return { job, task: task! };
}

describe("jobs on a warm host cannot see or steer each other", () => {
  it("a process left by one user's job neither reads nor fakes the next user's job", async () => {
    const home = world.ssh.hosts[0]!.home;
    await rm(join(home, "stolen-lines"), { force: true });
    await rm(join(home, "victim-proof"), { force: true });
    // Warm the host first, so both jobs run over the same pooled connection.
    expect((await finished("run s1 'true'")).job.status).toBe("succeeded");

    await writeFile(join(home, ".h.sh"), HIJACKER);
    await writeFile(join(home, ".x.sh"), "nohup setsid sh ~/.h.sh hijack </dev/null >/dev/null 2>&1 &\nsleep 1; echo job-a-done\n");
    const a = await finished("run s1 '. ~/.x.sh'", OPERATOR);
    expect(a.task.tail).toContain("job-a-done");
    // The leftover is running while the admin's jobs run.
    await eventually("the leftover to run", async () => (await world.ssh.hosts[0]!.processes(/hijack/)).length > 0);

    for (let i = 0; i < 3; i++) {
      // SECRET-ARG is in the command only, never in its output.
      const b = await finished(`run s1 'echo VICTIM-RAN-${i} > ~/victim-proof; : SECRET-ARG-${i}; echo real-output-${i}; exit 4'`);
      expect(b.task.exitCode).toBe(4);
      expect(b.job.status).toBe("failed");
      expect(b.task.tail).toContain(`real-output-${i}`);
      expect(await readFile(join(home, "victim-proof"), "utf8")).toBe(`VICTIM-RAN-${i}\n`);
      const stolen = await readFile(join(home, "stolen-lines"), "latin1").catch(() => "");
      expect(stolen).not.toContain(`SECRET-ARG-${i}`);
      expect(stolen).not.toContain(Buffer.from(`SECRET-ARG-${i}`).toString("hex"));
      expect(stolen).not.toContain("testum-end");
    }
    // The parent message shows the real outcome.
    const [last] = await world.testum.sql<{ parentMessage: string }[]>`select parent_message from jobs order by id desc limit 1`;
    const message = world.slack.message(CHANNEL, last!.parentMessage.split(":")[3]!)!;
    expect(blockText(message.blocks)).toContain("4");
    await world.ssh.hosts[0]!.exec("pkill -f hijack || true");
  }, 120_000);
});
