/**
 * The chat identities testum accepts (`slack:T0123:U0456`, `local:alice`):
 * one prefix per chat platform, followed by what that platform owns. Core
 * knows no platform; the list of platforms gives these forms at start-up.
 */
export interface IdentityForms {
  /** Each platform's prefix (`slack`), in the platforms' order. */
  readonly prefixes: readonly string[];
  /** One example per platform, in the same order (`slack:T0123:U0456`). */
  readonly examples: readonly string[];
}

/** What follows the prefix: the characters every platform's identities use. */
const REST = /^[A-Za-z0-9_.:-]+$/;

/** True when `text` is an identity of one of the platforms (a person, or a group such as `discord:G:role:R`). */
export function isIdentity(forms: IdentityForms, text: string): boolean {
  const colon = text.indexOf(":");
  return colon > 0 && forms.prefixes.includes(text.slice(0, colon)) && REST.test(text.slice(colon + 1));
}

/** The examples as a sentence names them: `a, b or c`. */
export function identityExamples(forms: IdentityForms): string {
  const { examples } = forms;
  return examples.length <= 1 ? (examples[0] ?? "") : `${examples.slice(0, -1).join(", ")} or ${examples.at(-1)}`;
}
