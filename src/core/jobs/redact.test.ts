import { describe, expect, it } from "vitest";
import { backtrackingRisk, BUILTIN_DETECTORS, checkRedactionPattern, compileRules, createJobRules, hostSecrets } from "./redact.js";
import { MAX_HOLD_BYTES, StreamRedactor } from "./redact-stream.js";
import { PLANTED, PLANTED_OUTPUT } from "./redact-samples.js";

const SECRET_VALUES = Object.values(PLANTED);

function runThrough(redactor: StreamRedactor, chunks: readonly Buffer[]): string {
  const out = chunks.flatMap((c) => redactor.push(c));
  out.push(...redactor.end());
  return Buffer.concat(out).toString("utf8");
}

const rules = compileRules({ literals: [{ name: "host_password", value: PLANTED.host_password }] });

describe("StreamRedactor", () => {
  const whole = runThrough(new StreamRedactor(rules), [Buffer.from(PLANTED_OUTPUT)]);

  it("replaces every planted secret and keeps the text around it", () => {
    for (const secret of SECRET_VALUES) expect(whole).not.toContain(secret);
    expect(whole).toContain("export AWS_ACCESS_KEY_ID=[redacted:aws_access_key]\n");
    expect(runThrough(new StreamRedactor(rules), [Buffer.from(`id ${PLANTED.aws_access_key}\n`)])).toBe("id [redacted:aws_access_key]\n");
    expect(whole).toContain("aws_secret_access_key = [redacted:secret]\n");
    expect(whole).toContain("https://x-access-token:[redacted:url_password]@github.com/acme/app.git");
    expect(whole).toContain("GH_PAT [redacted:github_token] in use");
    expect(whole).toContain("gitlab [redacted:gitlab_token]\n");
    expect(whole).toContain("SLACK_BOT=[redacted:slack_token]\n");
    expect(whole).toContain("socket [redacted:slack_token]\n");
    expect(whole).toContain("discord: [redacted:discord_token]\n");
    expect(whole).toContain("cookie session [redacted:jwt] set");
    expect(whole).toContain(`{"user": "app", "password": "[redacted:secret]"}`);
    expect(whole).toContain("postgres://app:[redacted:url_password]@db.internal:5432/app");
    expect(whole).toContain("Authorization: Bearer [redacted:bearer]");
    expect(whole).toContain("\n[redacted:private_key]\nlogin with [redacted:host_password] worked\n");
    expect(whole.startsWith("starting backup\n")).toBe(true);
    expect(whole.endsWith("done: 3 files, ünïcödé intact\n")).toBe(true);
  });

  it("catches every secret however the output is split in two chunks", () => {
    const bytes = Buffer.from(PLANTED_OUTPUT);
    for (let at = 0; at <= bytes.length; at++) {
      const out = runThrough(new StreamRedactor(rules), [bytes.subarray(0, at), bytes.subarray(at)]);
      for (const secret of SECRET_VALUES) if (out.includes(secret)) throw new Error(`split at byte ${at}: ${secret} shown`);
      expect(out, `split at byte ${at}`).toBe(whole);
    }
  });

  it("catches each shape alone on a line, with nothing else around it that could draw attention", () => {
    const alone: Record<string, string> = {
      aws_access_key: PLANTED.aws_access_key,
      github_token: PLANTED.github_token,
      github_pat: PLANTED.github_pat,
      gitlab_token: PLANTED.gitlab_token,
      slack_token: PLANTED.slack_token,
      slack_app_token: PLANTED.slack_app_token,
      discord_token: PLANTED.discord_token,
      jwt: PLANTED.jwt,
      bearer: `Bearer ${PLANTED.bearer}`,
      host_password: PLANTED.host_password,
    };
    for (const [name, text] of Object.entries(alone)) {
      // After a line of its own, so the split's first part is held: its anchor may straddle the seam.
      const bytes = Buffer.from(`first\nx ${text} y\n`);
      for (let at = 0; at <= bytes.length; at++) {
        const out = runThrough(new StreamRedactor(rules), [bytes.subarray(0, at), bytes.subarray(at)]);
        expect(out, `${name} split at ${at}`).toMatch(/^first\nx (Bearer )?\[redacted:[a-z_]+\] y\n$/);
      }
    }
  });

  it("catches a secret split over many small chunks", () => {
    const bytes = Buffer.from(PLANTED_OUTPUT);
    for (const size of [1, 2, 3, 7, 64]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
      expect(runThrough(new StreamRedactor(rules), chunks)).toBe(whole);
    }
  });

  it("hands on the same bytes when there is nothing to hide", () => {
    const redactor = new StreamRedactor(rules);
    const chunk = Buffer.from("just text\nnothing to see: 42 = 42\n");
    const [same] = redactor.push(chunk);
    expect(same!.buffer).toBe(chunk.buffer);
    const binary = Buffer.from([0xff, 0x00, 0xc3, 0x0a, 0xe2, 0x82]);
    expect(Buffer.concat([...redactor.push(binary), ...redactor.end()])).toEqual(binary);
    // A held line start and the chunk that completes it go on as they are, as two pieces.
    const plain = new StreamRedactor(rules);
    expect(plain.push(Buffer.from("half a li"))).toEqual([]);
    const rest = Buffer.from("ne\nand more\nnext");
    const pieces = plain.push(rest);
    expect(pieces.map(String)).toEqual(["half a li", "ne\nand more\n"]);
    expect(pieces[1]!.buffer).toBe(rest.buffer);
  });

  it("holds only the unfinished line, and releases a progress bar at each carriage return", () => {
    const redactor = new StreamRedactor(rules);
    const text = (pieces: Buffer[]) => Buffer.concat(pieces).toString();
    expect(text(redactor.push(Buffer.from("line one\nhalf ")))).toBe("line one\n");
    expect(text(redactor.push(Buffer.from(" 10%\r 20%\r 3")))).toBe("half  10%\r 20%\r");
    expect(text(redactor.end())).toBe(" 3");
  });

  it("releases a line longer than it holds, and still catches a secret near the cut", () => {
    for (const offset of [0, 5, 20, 40]) {
      const redactor = new StreamRedactor(rules);
      const filler = "x".repeat(MAX_HOLD_BYTES - 8 * 1024 - offset);
      const text = `${filler} token=${PLANTED.password} ${"y".repeat(12 * 1024)}`;
      const out: Buffer[] = [];
      for (let at = 0; at < text.length; at += 1000) out.push(...redactor.push(Buffer.from(text.slice(at, at + 1000))));
      const released = Buffer.concat(out).length;
      expect(released).toBeGreaterThan(0);
      out.push(...redactor.end());
      const all = Buffer.concat(out).toString();
      expect(all).not.toContain(PLANTED.password);
      expect(all).toContain("token=[redacted:secret]");
    }
  });

  it("shows what follows a key block that never ends", () => {
    const out = runThrough(new StreamRedactor(rules), [Buffer.from(`-----BEGIN RSA PRIVATE KEY-----\n${PLANTED.key_body}\n/etc/ssl/a.pem: matched\nafter\n`)]);
    expect(out).toBe("[redacted:private_key]/etc/ssl/a.pem: matched\nafter\n");
  });

  it("hides an armored PGP private key, headers and checksum included", () => {
    const pgp = [
      "gpg export:",
      "-----BEGIN PGP PRIVATE KEY BLOCK-----",
      "Version: GnuPG v2",
      "",
      PLANTED.key_body,
      "=tGx1",
      "-----END PGP PRIVATE KEY BLOCK-----",
      "done",
      "",
    ].join("\n");
    expect(runThrough(new StreamRedactor(rules), [Buffer.from(pgp)])).toBe("gpg export:\n[redacted:private_key]\ndone\n");
  });

  it("hides a key kept on one line with escaped line breaks", () => {
    const out = runThrough(new StreamRedactor(rules), [
      Buffer.from(`{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\\n${PLANTED.key_body}\\n-----END PRIVATE KEY-----\\n","id":1}\n`),
    ]);
    expect(out).not.toContain(PLANTED.key_body);
    expect(out).toContain('"id":1}');
  });

  it("does not hide a host secret too short to hide, nor common words", () => {
    const short = compileRules({ literals: [{ name: "host_password", value: "abc" }] });
    const out = runThrough(new StreamRedactor(short), [Buffer.from("abc def\npasswords are stored hashed\n")]);
    expect(out).toBe("abc def\npasswords are stored hashed\n");
    const env = "PWD=/home/app\nOLDPWD=/root\nDB_PWD=hunter22\n";
    expect(runThrough(new StreamRedactor(rules), [Buffer.from(env)])).toBe("PWD=/home/app\nOLDPWD=/root\nDB_PWD=[redacted:secret]\n");
  });

  it("applies admin patterns and names them", () => {
    const withPatterns = compileRules({ patterns: [{ name: "acme_key", pattern: "acme_[a-z0-9]{12}" }] });
    const bytes = Buffer.from("key acme_0123456789ab here\n");
    for (let at = 0; at <= bytes.length; at++) {
      expect(runThrough(new StreamRedactor(withPatterns), [bytes.subarray(0, at), bytes.subarray(at)])).toBe("key [redacted:acme_key] here\n");
    }
  });
});

describe("a job's rules", () => {
  it("hide each host's own password or key passphrase, and share one expression between hosts without one", () => {
    const forJob = createJobRules([{ name: "acme_key", pattern: "acme_[0-9]{4}" }]);
    expect(hostSecrets({ privateKey: "…" })).toEqual([]);
    expect(forJob(hostSecrets({ privateKey: "…" }))).toBe(forJob([]));
    const withPassphrase = forJob(hostSecrets({ privateKey: "…", passphrase: "correct horse" }));
    const out = runThrough(new StreamRedactor(withPassphrase), [Buffer.from("echo correct horse acme_1234\n")]);
    expect(out).toBe("echo [redacted:host_passphrase] [redacted:acme_key]\n");
    const withPassword = forJob(hostSecrets({ password: "s3cret.pw" }));
    expect(runThrough(new StreamRedactor(withPassword), [Buffer.from("pw s3cret.pw s3cretXpw\n")])).toBe("pw [redacted:host_password] s3cretXpw\n");
  });
});

describe("checkRedactionPattern", () => {
  it("accepts linear patterns", () => {
    expect(checkRedactionPattern("acme", "acme_[A-Za-z0-9]{32}")).toBeInstanceOf(RegExp);
    expect(checkRedactionPattern("pin", "PIN: ?[0-9]{4,8}")).toBeInstanceOf(RegExp);
    expect(checkRedactionPattern("grp", "(?:foo|bar)-[0-9]+")).toBeInstanceOf(RegExp);
  });

  it.each([
    ["x", "(a+)+$", "redact.nested_quantifier"],
    ["x", "(\\w|\\d)*z", "redact.nested_quantifier"],
    ["x", "((ab)*c)+", "redact.nested_quantifier"],
    ["x", "([a-z]+\\.)+com", "redact.nested_quantifier"],
    ["x", "(a)\\1", "redact.backreference"],
    ["x", "a*", "redact.matches_empty"],
    ["x", "foo|", "redact.matches_empty"],
    ["x", "", "redact.empty_pattern"],
    ["x", "a".repeat(301), "redact.too_long"],
    ["x", "[unclosed", "redact.bad_regex"],
    ["x", "пароль", "redact.not_ascii"],
    ["Bad Name", "abc", "redact.bad_name"],
    ["jwt", "abc", "redact.reserved_name"],
  ])("refuses %s %s (%s)", (name, pattern, key) => {
    expect(() => checkRedactionPattern(name, pattern)).toThrow(expect.objectContaining({ code: "invalid_input", key }));
  });

  it("finds no backtracking risk in the built-in shapes", () => {
    for (const { name, source } of BUILTIN_DETECTORS) expect(backtrackingRisk(source), name).toBeUndefined();
  });
});
