/** How a run spreads over its hosts. */
export interface RunFlags {
  readonly timeoutMs?: number | undefined;
  readonly parallel?: number | undefined;
  readonly batch?: number | undefined;
  readonly maxFailures?: number | undefined;
  readonly dryRun?: boolean | undefined;
}

/**
 * Every chat command testum understands, as one typed union. Slack text and
 * Discord options both become a Command here; adapters never interpret
 * arguments themselves.
 */
export type Command =
  | ({ readonly name: "run"; readonly target: string; readonly command: string } & RunFlags)
  | ({ readonly name: "script"; readonly target: string; readonly script?: string | undefined } & RunFlags)
  | { readonly name: "cancel"; readonly job: number }
  | { readonly name: "jobs.list" }
  | { readonly name: "jobs.show"; readonly job: number }
  | { readonly name: "jobs.revoke-links"; readonly job: number }
  | { readonly name: "logs"; readonly job: number; readonly host?: string | undefined }
  | { readonly name: "hosts.list" }
  | { readonly name: "hosts.show"; readonly host: string }
  | { readonly name: "hosts.add"; readonly host: string; readonly address: string; readonly tags: readonly string[]; readonly via?: string | undefined }
  | { readonly name: "hosts.via"; readonly host: string; readonly bastion?: string | undefined }
  | { readonly name: "hosts.rm"; readonly host: string }
  | { readonly name: "hosts.tag"; readonly host: string; readonly tags: readonly string[] }
  | { readonly name: "hosts.untag"; readonly host: string; readonly keys: readonly string[] }
  | { readonly name: "hosts.test"; readonly host: string }
  | { readonly name: "hosts.repin"; readonly host: string; readonly fingerprint?: string | undefined }
  | { readonly name: "hosts.secret"; readonly host: string }
  | { readonly name: "identity" }
  | { readonly name: "keys.list" }
  | { readonly name: "keys.add"; readonly key: string; readonly line: string }
  | { readonly name: "keys.rm"; readonly key: string }
  | { readonly name: "keys.deploy"; readonly key: string; readonly target: string }
  | { readonly name: "keys.revoke"; readonly key: string; readonly target: string }
  | { readonly name: "keys.status"; readonly target: string }
  | { readonly name: "grant"; readonly subject: string; readonly role: string; readonly scope: string }
  | { readonly name: "revoke"; readonly subject: string; readonly role: string; readonly scope: string }
  | { readonly name: "access" }
  | { readonly name: "whoami" }
  | { readonly name: "approve"; readonly job: number }
  | { readonly name: "reject"; readonly job: number; readonly reason?: string | undefined }
  | { readonly name: "audit"; readonly filters: readonly string[] }
  | { readonly name: "risk.list" }
  | { readonly name: "risk.add"; readonly pattern: string; readonly description: string }
  | { readonly name: "risk.rm"; readonly id: number }
  | { readonly name: "redact.list" }
  | { readonly name: "redact.add"; readonly redaction: string; readonly pattern: string }
  | { readonly name: "redact.rm"; readonly redaction: string }
  | {
      readonly name: "schedule.add";
      readonly cron: string;
      readonly target: string;
      readonly command: string;
      readonly timezone?: string | undefined;
      readonly label?: string | undefined;
      readonly onChange?: boolean | undefined;
      readonly timeoutMs?: number | undefined;
    }
  | {
      readonly name: "schedule.rb";
      readonly cron: string;
      readonly runbook: string;
      readonly params: Readonly<Record<string, string>>;
      readonly timezone?: string | undefined;
      readonly label?: string | undefined;
      readonly onChange?: boolean | undefined;
      readonly timeoutMs?: number | undefined;
    }
  | { readonly name: "schedule.list" }
  | { readonly name: "schedule.show"; readonly schedule: number }
  | { readonly name: "schedule.rm"; readonly schedule: number }
  | { readonly name: "schedule.pause"; readonly schedule: number }
  | { readonly name: "schedule.resume"; readonly schedule: number }
  | { readonly name: "schedule.run"; readonly schedule: number }
  | ({ readonly name: "rb"; readonly runbook: string; readonly params: Readonly<Record<string, string>> } & RunFlags)
  | {
      readonly name: "runbook.add";
      readonly runbook: string;
      readonly target: string;
      readonly command: string;
      readonly description?: string | undefined;
      readonly approval?: string | undefined;
      readonly role?: string | undefined;
      readonly timeoutMs?: number | undefined;
      readonly replace?: boolean | undefined;
    }
  | { readonly name: "runbook.list" }
  | { readonly name: "runbook.show"; readonly runbook: string }
  | { readonly name: "runbook.rm"; readonly runbook: string }
  | { readonly name: "help"; readonly topic?: string | undefined };

export type CommandName = Command["name"];

/** Requests that come only from buttons (they have no typed command). */
export type ButtonRequest = { readonly name: "schedule.approve"; readonly schedule: number } | { readonly name: "schedule.reject"; readonly schedule: number };

export type Request = Command | ButtonRequest;
export type RequestName = Request["name"];
