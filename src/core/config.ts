import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { identityExamples, isIdentity, type IdentityForms } from "./access/chat-identities.js";
import { parseDuration } from "./duration.js";

/**
 * The configuration every testum has, parsed once from the environment at
 * start-up and frozen. This is the only module that reads `process.env`.
 * Each chat platform adds its own variables (a ConfigFragment); the list of
 * platforms composes them into the whole configuration (src/config.ts).
 */
export type CoreConfig = Readonly<Omit<z.infer<typeof schema>, "TESTUM_MASTER_KEY" | "TESTUM_MASTER_KEY_PREVIOUS" | "TESTUM_ADMINS">> & {
  /** Identities that are admins everywhere (TESTUM_ADMINS). */
  readonly TESTUM_ADMINS: readonly string[];
  readonly masterKey: Buffer;
  readonly previousMasterKey: Buffer | undefined;
  readonly publicUrl: string;
  readonly warnings: readonly string[];
};

/**
 * The variables one part of testum (a chat platform) reads: zod fields over
 * the environment's text, in the style of core's own (each message says what
 * a good value looks like), and the checks across them. Each problem names its
 * variable first, like every other configuration problem.
 */
export interface ConfigFragment<Shape extends z.ZodRawShape = z.ZodRawShape> {
  readonly fields: Shape;
  check?(values: z.output<z.ZodObject<Shape>>): readonly string[];
}

/** The settings a fragment gives, as the parts that read them see them. */
export type SettingsOf<F> = F extends ConfigFragment<infer Shape> ? Readonly<z.output<z.ZodObject<Shape>>> : never;

/** A setting is missing or malformed; `problems` name each variable. */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** Text, or undefined when unset or blank. */
export const optionalText = z
  .string()
  .trim()
  .transform((v) => (v === "" ? undefined : v))
  .optional();

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: "custom", message: `expected a duration such as 30s, 10m or 1h, got "${v}"` });
        return z.NEVER;
      }
      return ms;
    });

/** A URL with one of `protocols`; the message shows `example`. */
export const url = (protocols: string[], example: string) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `expected a URL like ${example}` },
  );

const identityList = (forms: IdentityForms) =>
  z
    .string()
    .default("")
    .transform((v, ctx) => {
      const ids = v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      for (const id of ids) {
        if (!isIdentity(forms, id)) {
          ctx.addIssue({ code: "custom", message: `expected chat identities such as ${identityExamples(forms)}, got "${id}"` });
        }
      }
      return Object.freeze(ids);
    });

const booleanFlag = z
  .string()
  .default("false")
  .transform((v, ctx) => {
    const value = v.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(value)) return true;
    if (["", "0", "false", "no", "off"].includes(value)) return false;
    ctx.addIssue({ code: "custom", message: `expected true or false, got "${v}"` });
    return z.NEVER;
  });

const base64Key = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === "") return undefined;
    const key = Buffer.from(v, "base64");
    if (key.length !== 32 || key.toString("base64").replace(/=+$/, "") !== v.replace(/=+$/, "")) {
      ctx.addIssue({
        code: "custom",
        message: "expected 32 random bytes in base64 (for example the output of `openssl rand -base64 32`)",
      });
      return z.NEVER;
    }
    return key;
  });

const port = (fallback: number) =>
  z.coerce
    .number({ error: "expected a port number from 0 to 65535" })
    .int({ error: "expected a port number from 0 to 65535" })
    .min(0, { error: "expected a port number from 0 to 65535" })
    .max(65535, { error: "expected a port number from 0 to 65535" })
    .default(fallback);

/** A whole number of `what`, from `min` (to `max`), `fallback` when unset. */
const wholeNumber = (what: string, fallback: number, min: number, max?: number) => {
  const n = z.coerce
    .number({ error: `expected a whole number of ${what}` })
    .int({ error: `expected a whole number of ${what}` })
    .min(min, { error: `expected at least ${min}` });
  return (max === undefined ? n : n.max(max, { error: `expected at most ${max}` })).default(fallback);
};

const schema = z.object({
  DATABASE_URL: url(["postgres:", "postgresql:"], "postgres://user@host:5432/testum").default("postgres://postgres@127.0.0.1:5432/testum"),
  /** Connections of each of a server's database pools opened at start (up to the pool's 10); 0 opens them as they are needed. */
  DATABASE_WARM_CONNECTIONS: wholeNumber("connections", 10, 0, 10),
  REDIS_URL: url(["redis:", "rediss:"], "redis://127.0.0.1:6379").default("redis://127.0.0.1:6379"),
  TESTUM_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, "expected 1 to 64 letters, digits, - . _")
    .default("testum"),
  PORT: port(3000),
  /** Where `testum worker` serves /healthz, /readyz and /metrics (0: any free port). */
  WORKER_PORT: port(3001),
  HOST: z.string().default("0.0.0.0"),
  PUBLIC_URL: optionalText.pipe(url(["http:", "https:"], "https://testum.example.com").optional()),
  TESTUM_DATA_DIR: z.string().default("./data"),
  TESTUM_MASTER_KEY: base64Key,
  TESTUM_MASTER_KEY_PREVIOUS: base64Key,
  S3_ENDPOINT: optionalText.pipe(url(["http:", "https:"], "https://s3.amazonaws.com or http://minio:9000").optional()),
  S3_BUCKET: optionalText,
  S3_REGION: z.string().default("us-east-1"),
  S3_ACCESS_KEY_ID: optionalText,
  S3_SECRET_ACCESS_KEY: optionalText,
  S3_FORCE_PATH_STYLE: booleanFlag,
  /** Checked against the platforms' identity forms in parseConfig. */
  TESTUM_ADMINS: z.string().default(""),
  TESTUM_JOB_TIMEOUT: duration("10m"),
  TESTUM_APPROVAL_HOSTS: wholeNumber("hosts", 20, 1),
  TESTUM_APPROVALS_REQUIRED: wholeNumber("approvers", 1, 1, 10),
  TESTUM_APPROVAL_TTL: duration("30m"),
  TESTUM_SHUTDOWN_GRACE: duration("30s"),
  TESTUM_LOST_AFTER: duration("45s"),
  /** How long an SSH connection may take to get through its handshake and login before the host counts as unreachable. */
  TESTUM_SSH_CONNECT_TIMEOUT: duration("20s"),
  TESTUM_SCHEDULE_CATCHUP: booleanFlag,
  TESTUM_AUDIT_ANCHOR_EVERY: duration("10m"),
  /** How long a job's log, report and job-page links open, from the job's start; then they answer 410. */
  TESTUM_LINK_TTL: duration("30d"),
  TESTUM_WORKER_HOSTS: wholeNumber("hosts", 100, 1, 2000),
  TESTUM_LANG: z.enum(["en", "ru"], { error: "expected en or ru" }).default("en"),
  /** `allowlist`: operators run only runbooks; their own commands need admin or the free-form role on the hosts. */
  TESTUM_MODE: z.preprocess(
    (v) => (typeof v === "string" ? v.trim().toLowerCase() || undefined : v),
    z.enum(["open", "allowlist"], { error: "expected open or allowlist" }).default("open"),
  ),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  /** When set, GET /metrics requires `Authorization: Bearer <token>`. */
  METRICS_TOKEN: optionalText,
  LOG_FORMAT: z.enum(["auto", "json", "pretty"], { error: "expected auto, json or pretty" }).default("auto"),
});

type Env = Record<string, string | undefined>;

/** What parseConfig adds to core's variables: the chat platforms' fragments and identity forms. */
export interface ConfigParts {
  readonly fragments: readonly ConfigFragment[];
  readonly identities: IdentityForms;
}

/**
 * Parses the environment: core's variables and every fragment's, in one
 * pass, so one start-up names every bad variable at once (ConfigError).
 * When TESTUM_MASTER_KEY is unset, a key is generated once into
 * `$TESTUM_DATA_DIR/master.key` (with a warning) and reused afterwards.
 * The result holds core's settings and every fragment's, side by side.
 */
export function parseConfig(env: Env | undefined, parts: ConfigParts, options: { readonly createKey?: boolean } = {}): CoreConfig & Readonly<Record<string, unknown>> {
  const whole = parts.fragments.reduce<z.ZodObject<z.ZodRawShape>>(
    (all, fragment) => all.extend(fragment.fields),
    schema.extend({ TESTUM_ADMINS: identityList(parts.identities) }),
  );
  const parsed = whole.safeParse(env ?? process.env);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((issue) => `${String(issue.path[0] ?? "environment")}: ${issue.message}`));
  const all = parsed.data;
  const values = all as z.output<typeof schema> & { readonly TESTUM_ADMINS: readonly string[] };
  const warnings: string[] = [];
  const problems: string[] = [];

  if (values.S3_BUCKET === undefined && values.S3_ENDPOINT !== undefined) {
    problems.push("S3_BUCKET: required when S3_ENDPOINT is set (the bucket that holds job logs)");
  }
  if ((values.S3_ACCESS_KEY_ID === undefined) !== (values.S3_SECRET_ACCESS_KEY === undefined)) {
    problems.push("S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY: set both or neither");
  }
  for (const fragment of parts.fragments) problems.push(...(fragment.check?.(all) ?? []));
  if (problems.length > 0) throw new ConfigError(problems);

  let masterKey: Buffer | undefined = values.TESTUM_MASTER_KEY;
  if (masterKey === undefined) {
    const path = resolve(values.TESTUM_DATA_DIR, "master.key");
    if (options.createKey === false && !existsSync(path)) {
      throw new ConfigError([
        `TESTUM_MASTER_KEY: not set, and there is no key file at ${path}. Run this command with the server's environment: its TESTUM_MASTER_KEY, or from the directory it runs in (TESTUM_DATA_DIR, default ./data, holds its master.key).`,
      ]);
    }
    masterKey = readOrCreateKeyFile(path);
    warnings.push(`TESTUM_MASTER_KEY is not set: using the key in ${path}. Fine on a laptop; in production set TESTUM_MASTER_KEY.`);
  }

  const publicUrl = (values.PUBLIC_URL ?? `http://localhost:${values.PORT}`).replace(/\/+$/, "");
  // `values` is `all` as core sees it: the fragments' settings travel along in `rest`.
  const { TESTUM_MASTER_KEY: _key, TESTUM_MASTER_KEY_PREVIOUS: _previous, ...rest } = values;
  return Object.freeze({
    ...rest,
    masterKey,
    previousMasterKey: values.TESTUM_MASTER_KEY_PREVIOUS,
    publicUrl,
    warnings: Object.freeze(warnings),
  });
}

function readOrCreateKeyFile(path: string): Buffer {
  if (existsSync(path)) {
    checkKeyFileAccess(path);
    const key = Buffer.from(readFileSync(path, "utf8").trim(), "base64");
    if (key.length !== 32) {
      throw new ConfigError([`TESTUM_MASTER_KEY: the key file ${path} does not hold 32 bytes in base64`]);
    }
    return key;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  // "wx": never overwrite a key another process wrote a moment ago.
  try {
    writeFileSync(path, key.toString("base64") + "\n", { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return readOrCreateKeyFile(path);
    throw err;
  }
  chmodSync(path, 0o600);
  return key;
}

/**
 * The master key file must be testum's own and unreadable to anyone else:
 * whoever reads it can decrypt every stored credential.
 */
function checkKeyFileAccess(path: string): void {
  const info = statSync(path);
  const mode = (info.mode & 0o777).toString(8).padStart(3, "0");
  if ((info.mode & 0o077) !== 0) {
    throw new ConfigError([`TESTUM_MASTER_KEY: the key file ${path} can be read or changed by other users (mode ${mode}); run: chmod 600 ${path}`]);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && uid !== 0 && info.uid !== uid) {
    throw new ConfigError([`TESTUM_MASTER_KEY: the key file ${path} belongs to user id ${info.uid}, not to testum's user (${uid}); run: chown ${uid} ${path}`]);
  }
}

/**
 * A few variables, parsed like parseConfig parses them but without its side
 * effects (no master key is read or made): what the setup commands
 * (`testum slack manifest`, `testum discord invite-url`) need. Throws
 * ConfigError like parseConfig.
 */
export function loadSettings<Shape extends z.ZodRawShape>(fields: Shape, env: Env = process.env): z.output<z.ZodObject<Shape>> {
  const parsed = z.object(fields).safeParse(env);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((issue) => `${String(issue.path[0] ?? "environment")}: ${issue.message}`));
  return parsed.data;
}

/** PUBLIC_URL without a trailing slash, when set (for the setup commands). */
export function loadPublicUrl(env: Env = process.env): string | undefined {
  return loadSettings({ PUBLIC_URL: schema.shape.PUBLIC_URL }, env).PUBLIC_URL?.replace(/\/+$/, "");
}

/**
 * Reads a secret from an environment variable the user named on the command
 * line (`--password-env VAR`), so secrets never appear in shell history.
 */
export function readNamedSecret(name: string, env: Env = process.env): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ConfigError([`${name}: not a valid environment variable name`]);
  const value = env[name];
  if (value === undefined || value === "") throw new ConfigError([`${name}: not set (it should hold the secret)`]);
  return value;
}
