import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { say, translator } from "../chat/i18n.js";
import { describeRisk, normalizeCommand, riskReasons, type RiskPattern } from "./risk.js";

/** The default patterns, as the migration seeds them. */
function defaults(): RiskPattern[] {
  const sql = readFileSync(new URL("../../../migrations/00004_access_and_approvals.sql", import.meta.url), "utf8");
  return [...sql.matchAll(/^\s+\('(.+)', '(.+)'\)[,;]$/gm)].map((m, i) => ({ id: i + 1, pattern: m[1]!, description: m[2]!, createdBy: "testum" }));
}

const hosts = [{ name: "web-1", tags: {} }];
const risky = (command: string) => riskReasons(command, hosts, defaults(), { maxHostsWithoutApproval: 20 });

describe("the risk policy", () => {
  it("has a default pattern for each kind of dangerous command", () => {
    expect(defaults()).toHaveLength(10);
    const cases: Array<[string, string]> = [
      ["rm -rf /var/lib/app", "recursive rm"],
      ["rm -f -r x", "recursive rm"],
      ["sudo rm --recursive /srv", "recursive rm"],
      ["mkfs.ext4 /dev/sdb1", "mkfs"],
      ["dd if=/dev/zero of=/dev/sda bs=1M", "dd to a device"],
      ["sudo reboot", "shutdown"],
      ["shutdown -h now", "shutdown"],
      ["systemctl restart nginx", "systemctl"],
      ["systemctl --now disable sshd", "systemctl"],
      ["kill -9 1234", "kill -9"],
      ["pkill -KILL java", "kill -9"],
      ["iptables -F", "iptables"],
      ["psql -c 'DROP TABLE users'", "SQL DROP"],
      ["mysql -e 'truncate orders'", "SQL DROP"],
      ["cat x > /dev/sda", "disk device"],
      ["chmod -R 777 /", "recursive chmod"],
      ["chown --recursive www-data /srv", "recursive chmod"],
    ];
    for (const [command, expected] of cases) expect(risky(command).join(), command).toContain(expected);
  });

  it("leaves everyday commands alone", () => {
    for (const command of ["df -h", "uptime", "rm /tmp/file.txt", "systemctl status nginx", "kill 1234", "ls -R /etc", "cat /var/log/syslog | grep reboot-required"]) {
      expect(risky(command), command).toEqual([]);
    }
  });

  it("sees through quoting and spacing", () => {
    expect(normalizeCommand(`r''m   -r"f" /x`)).toBe("rm -rf /x");
    expect(risky(`r''m -r"f" /x`).join()).toContain("recursive rm");
    expect(risky(`r\\m -rf /x`).join()).toContain("recursive rm");
    expect(risky(`rm$IFS-rf /x`).join()).toContain("recursive rm");
    expect(risky(`sys"temctl" stop   nginx`).join()).toContain("systemctl");
  });

  it("says the built-in descriptions in the reader's language, an admin's as written", () => {
    const ru = (command: string, patterns = defaults()) => riskReasons(command, hosts, patterns, { maxHostsWithoutApproval: 20 }, translator("ru"));
    expect(ru("rm -rf /x")).toEqual(["команда выглядит рискованной: рекурсивный rm"]);
    expect(ru("systemctl restart nginx").join()).toContain("перезапуск");
    // Every seeded description has its translation.
    for (const p of defaults()) expect(say(translator("ru"), describeRisk(p)), p.description).not.toBe(p.description);
    const own: RiskPattern = { id: 99, pattern: "\\bdeploy\\b", description: "deploy script", createdBy: "slack:T1:U1" };
    expect(ru("deploy now", [own])).toEqual(["команда выглядит рискованной: deploy script"]);
    // The same words from an admin are theirs, not the seeded pattern's.
    expect(say(translator("ru"), describeRisk({ ...own, description: "recursive rm" }))).toBe("recursive rm");
  });

  it("needs approval on hosts tagged approval=required and above the host limit", () => {
    const tagged = [{ name: "db-1", tags: { approval: "required" } }];
    expect(riskReasons("ls", tagged, [], { maxHostsWithoutApproval: 20 })).toEqual(["db-1 requires approval for every command (tag approval=required)"]);
    const many = Array.from({ length: 21 }, (_, i) => ({ name: `h${i}`, tags: {} }));
    expect(riskReasons("ls", many, [], { maxHostsWithoutApproval: 20 })).toEqual(["it targets 21 hosts (more than 20 need approval)"]);
  });
});
