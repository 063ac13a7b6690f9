import { findIdentity } from "../core/hosts/identity.js";
import { rotateIdentity } from "../core/hosts/identity-rotation.js";
import { recordAudit } from "../core/access/audit.js";
import { rotateSecrets } from "../core/hosts/secrets.js";
import { cliActor, CliUsageError, parseVerbArgs, printOutcomes, withDatabase, type Verb } from "./shared.js";

const IDENTITY_HELP = `Usage: testum identity [rotate [--deploy]]

testum identity          prints testum's public key, for hosts' authorized_keys
testum identity rotate   makes a new identity key (or continues a rotation in
                         progress), checks every host that uses the identity
                         accepts it, and only then retires the old key
  --deploy               first put the new key into testum's block on those hosts`;

export const identityVerb: Verb = {
  name: "identity",
  summary: "print or rotate testum's SSH identity",
  help: IDENTITY_HELP,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, { deploy: { type: "boolean" } }, 1);
    if (values.help) return void console.log(IDENTITY_HELP);
    const sub = positionals[0];
    if (sub === undefined) {
      if (values.deploy) throw new CliUsageError("--deploy goes with rotate", IDENTITY_HELP);
      return withDatabase(async (ctx) => {
        const { ensureIdentity } = await import("../core/hosts/identity.js");
        const key = (await findIdentity(ctx.sql, "active")) ?? (await ensureIdentity(ctx.sql, ctx.box, (await ctx.remote()).generateKeyPair));
        console.log(key.publicKey);
        return 0;
      });
    }
    if (sub !== "rotate") throw new CliUsageError(`unknown identity command "${sub}"`, IDENTITY_HELP);
    return withDatabase(async (ctx) => {
      const result = await rotateIdentity({ sql: ctx.sql, box: ctx.box, remote: await ctx.remote() }, cliActor(), { deploy: values.deploy ?? false });
      console.log(`New identity key: ${result.next.fingerprint}\n${result.next.publicKey}\n`);
      if (result.outcomes.length > 0) printOutcomes(result.outcomes);
      if (result.completed) {
        console.log(`\nEvery host accepts the new key. It is now active${result.retired ? `; ${result.retired.fingerprint} is retired` : ""}.`);
        return 0;
      }
      console.log("\nNot every host accepts the new key yet, so the old key stays active. Fix those hosts (or use --deploy) and run this again.");
      return 1;
    });
  },
};

const SECRETS_HELP = `Usage: testum secrets rotate

Re-encrypts every stored secret under TESTUM_MASTER_KEY, reading the old key
from TESTUM_MASTER_KEY_PREVIOUS. It checks first that every secret opens and
changes nothing otherwise. Interrupted, it loses nothing: run it again.`;

export const secretsVerb: Verb = {
  name: "secrets",
  summary: "re-encrypt stored secrets under a new master key",
  help: SECRETS_HELP,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, {}, 1);
    if (values.help) return void console.log(SECRETS_HELP);
    if (positionals[0] !== "rotate") throw new CliUsageError(positionals[0] ? `unknown secrets command "${positionals[0]}"` : "missing rotate", SECRETS_HELP);
    return withDatabase(async ({ config, sql, box }) => {
      if (!config.previousMasterKey) {
        console.log("TESTUM_MASTER_KEY_PREVIOUS is not set: checking that every secret opens with TESTUM_MASTER_KEY.");
      }
      const result = await rotateSecrets(sql, box);
      await recordAudit(sql, { actor: cliActor(), action: "secrets.rotate", target: box.keyId, outcome: "completed", detail: result });
      console.log(`Re-encrypted ${result.rotated} secret(s); ${result.alreadyCurrent} already used the current key (${box.keyId}).`);
      return 0;
    });
  },
};
