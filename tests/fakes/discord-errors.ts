/**
 * Discord's JSON error bodies (topics/opcodes-and-status-codes "JSON Error
 * Codes", reference "Error Messages"): `{ code, message, errors? }`, where
 * `errors` mirrors the request body and ends in `{ _errors: [{ code, message }] }`.
 */

export interface FormErrorItem {
  code: string;
  message: string;
}

export interface FormErrorTree {
  _errors?: FormErrorItem[];
  [key: string]: FormErrorTree | FormErrorItem[] | undefined;
}

export interface DiscordErrorBody {
  code: number;
  message: string;
  errors?: FormErrorTree;
}

/** Thrown by route handlers; the server turns it into the HTTP response. */
export class DiscordHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: DiscordErrorBody,
  ) {
    super(`${status} ${body.code}: ${body.message}`);
    this.name = 'DiscordHttpError';
  }
}

/** Collects 50035 field errors at their JSON paths. */
export class FormErrors {
  readonly tree: FormErrorTree = {};
  private count = 0;

  add(path: ReadonlyArray<string | number>, code: string, message: string): void {
    let node = this.tree;
    for (const key of path) {
      const k = String(key);
      const next = node[k];
      if (next === undefined || Array.isArray(next)) {
        const created: FormErrorTree = {};
        node[k] = created;
        node = created;
      } else {
        node = next;
      }
    }
    (node._errors ??= []).push({ code, message });
    this.count += 1;
  }

  get empty(): boolean {
    return this.count === 0;
  }

  /** Throws 400 Invalid Form Body (50035) if anything was collected. */
  throwIfAny(): void {
    if (!this.empty) throw invalidFormBody(this.tree);
  }
}

export function invalidFormBody(errors: FormErrorTree): DiscordHttpError {
  return new DiscordHttpError(400, { code: 50035, message: 'Invalid Form Body', errors });
}

/** Single-field 50035 error. */
export function fieldError(path: ReadonlyArray<string | number>, code: string, message: string): DiscordHttpError {
  const errors = new FormErrors();
  errors.add(path, code, message);
  return invalidFormBody(errors.tree);
}

const err = (status: number, code: number, message: string) => () => new DiscordHttpError(status, { code, message });

/** The JSON error codes the fake answers with (topics/opcodes-and-status-codes). */
export const discordErrors = {
  unauthorized: err(401, 0, '401: Unauthorized'),
  notFound: err(404, 0, '404: Not Found'),
  methodNotAllowed: err(405, 0, '405: Method Not Allowed'),
  unknownChannel: err(404, 10003, 'Unknown Channel'),
  unknownGuild: err(404, 10004, 'Unknown Guild'),
  unknownMember: err(404, 10007, 'Unknown Member'),
  unknownMessage: err(404, 10008, 'Unknown Message'),
  unknownWebhook: err(404, 10015, 'Unknown Webhook'),
  unknownInteraction: err(404, 10062, 'Unknown interaction'),
  alreadyAcknowledged: err(400, 40060, 'Interaction has already been acknowledged.'),
  missingAccess: err(403, 50001, 'Missing Access'),
  notAuthor: err(403, 50005, 'Cannot edit a message authored by another user'),
  emptyMessage: err(400, 50006, 'Cannot send an empty message'),
  missingPermissions: err(403, 50013, 'Missing Permissions'),
  wrongChannelType: err(400, 50024, 'Cannot execute action on this channel type'),
  invalidWebhookToken: err(401, 50027, 'Invalid Webhook Token'),
  invalidJson: err(400, 50109, 'The request body contains invalid JSON.'),
  threadArchived: err(400, 50083, 'Thread is archived'),
  threadAlreadyCreated: err(400, 160004, 'A thread has already been created for this message'),
  payloadTooLarge: err(413, 40005, 'Request entity too large'),
} as const;
