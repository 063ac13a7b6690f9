import SSHConfig, { type Line } from "ssh-config";
import { importedHostName, parseProxyCommand, parseProxyJump, portOf, type ImportedHost, type Inventory, type JumpHop, type Skipped } from "../core/hosts/inventory.js";

/**
 * Reads an OpenSSH client config (`~/.ssh/config`) with the ssh-config
 * parser: every `Host` name that is a single host (not a pattern) becomes a
 * host, with the options ssh itself would use for it, `Host *` blocks and
 * `Match` blocks included (its `compute()`; `Match exec` is never run).
 * ProxyJump, and a ProxyCommand that is `ssh -W %h:%p HOST`, become the host's
 * bastion. The rest says why it was not imported.
 */
export function parseOpenSshConfig(text: string): Inventory {
  const config = SSHConfig.parse(text);
  const hosts: ImportedHost[] = [];
  const skipped: Skipped[] = [];
  const names: string[] = [];
  const words = (value: string | ReadonlyArray<{ val: string }>): string[] => (typeof value === "string" ? value.split(/\s+/).filter(Boolean) : value.map((v) => v.val));

  const walk = (lines: readonly Line[]) => {
    for (const line of lines) {
      if (line.type !== SSHConfig.DIRECTIVE) continue;
      const param = line.param.toLowerCase();
      const value = words(line.value);
      if (param === "host") {
        for (const pattern of value) {
          if (/[*?!]/.test(pattern)) skipped.push({ name: pattern, reason: `Host ${pattern}: a pattern, not a single host (its options apply to the hosts it matches)` });
          else if (!names.includes(pattern)) names.push(pattern);
        }
      } else if (param === "match" && value.some((v) => v.toLowerCase() === "exec")) {
        skipped.push({ name: `Match ${value.join(" ")}`, reason: "Match exec is not evaluated: importing runs no command" });
      } else if (param === "include") {
        skipped.push({ name: `Include ${value.join(" ")}`, reason: "Include is not followed: import that file on its own" });
      }
      if ("config" in line) walk(line.config);
    }
  };
  walk(config);

  for (const alias of names) {
    const where = `Host ${alias}`;
    const name = importedHostName(alias);
    if (!name) {
      skipped.push({ name: alias, reason: `${where}: not a valid testum host name (1-63 of a-z 0-9 - . _)` });
      continue;
    }
    const options = config.compute(alias, { ignoreCase: true, matchExec: false });
    const first = (key: string): string | undefined => {
      const v = options[key];
      return Array.isArray(v) ? v[0] : v;
    };
    const hostName = first("hostname");
    // ssh expands %h in HostName to the name asked for; other tokens name things testum does not know.
    const address = hostName === undefined ? alias : hostName.replace(/%(%|h)/g, (_, t: string) => (t === "h" ? alias : "%"));
    if (address.includes("%")) {
      skipped.push({ name, reason: `${where}: HostName "${hostName}" uses a % token other than %h` });
      continue;
    }
    const port = portOf(first("port"));
    if (port === "bad") {
      skipped.push({ name, reason: `${where}: Port "${first("port")}" is not a port number` });
      continue;
    }
    const proxyJump = first("proxyjump");
    const proxyCommand = first("proxycommand");
    // ssh takes whichever comes first; with both written, ProxyJump is the one testum can honour.
    const found =
      proxyJump !== undefined ? parseProxyJump(proxyJump) : proxyCommand === undefined || proxyCommand.toLowerCase() === "none" ? undefined : parseProxyCommand(proxyCommand);
    if (found !== undefined && typeof found === "object" && "problem" in found) {
      skipped.push({ name, reason: `${where}: ${found.problem}` });
      continue;
    }
    const jump: readonly JumpHop[] | "none" | undefined = found ?? (proxyCommand?.toLowerCase() === "none" ? "none" : undefined);
    hosts.push({
      name,
      address,
      port,
      username: first("user"),
      identityFile: first("identityfile"),
      tags: {},
      jump,
      source: where,
    });
  }
  return { format: "openssh", hosts, skipped };
}
