import { TestumError } from "../errors.js";

/**
 * Payloads of buttons and forms, encoded and decoded in one place and kept
 * within the smallest platform limit (Discord's custom_id: 100 characters).
 */
export type Action =
  | { readonly kind: "host-secret"; readonly host: string }
  /** Confirms the host key shown: `fingerprint` is the start of it (the whole one does not fit). */
  | { readonly kind: "repin"; readonly host: string; readonly fingerprint: string }
  | { readonly kind: "approve"; readonly job: number }
  | { readonly kind: "reject"; readonly job: number }
  | { readonly kind: "cancel"; readonly job: number }
  | { readonly kind: "script"; readonly target: string }
  | { readonly kind: "schedule-approve"; readonly schedule: number }
  | { readonly kind: "schedule-reject"; readonly schedule: number };

export const MAX_ACTION_LENGTH = 100;

export function encodeAction(action: Action): string {
  const encoded = `t1:${action.kind}:${action.kind === "repin" ? `${action.host}:${action.fingerprint}` : "host" in action ? action.host : "target" in action ? action.target : "schedule" in action ? action.schedule : action.job}`;
  if (encoded.length > MAX_ACTION_LENGTH) throw new TestumError("invalid_input", "action payload too long");
  return encoded;
}

export function decodeAction(text: string): Action | undefined {
  const [version, kind, ...rest] = text.split(":");
  if (version !== "t1") return undefined;
  const arg = rest.join(":");
  switch (kind) {
    case "host-secret":
      return /^[a-z0-9._-]{1,63}$/.test(arg) ? { kind, host: arg } : undefined;
    case "repin": {
      const match = /^([a-z0-9._-]{1,63}):(SHA256:[A-Za-z0-9+/]{20,43})$/.exec(arg);
      return match ? { kind, host: match[1]!, fingerprint: match[2]! } : undefined;
    }
    case "script":
      return arg !== "" ? { kind, target: arg } : undefined;
    case "schedule-approve":
    case "schedule-reject":
      return /^\d{1,15}$/.test(arg) ? { kind, schedule: Number(arg) } : undefined;
    case "approve":
    case "reject":
    case "cancel":
      return /^\d{1,15}$/.test(arg) ? { kind, job: Number(arg) } : undefined;
    default:
      return undefined;
  }
}
