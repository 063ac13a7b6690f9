import { en } from "./i18n/en.js";
import { ru } from "./i18n/ru.js";

/**
 * The languages testum speaks in chat, and the one way text gets into them:
 * a flat catalogue per language, keyed by message, with `{name}` placeholders
 * and `{count|form|form…}` plural forms (the forms in the order of the
 * language's plural categories: en one|other, ru one|few|many).
 */
export type Lang = "en" | "ru";

export const LANGS: readonly Lang[] = ["en", "ru"];

export type MessageKey = keyof typeof en;

/**
 * A key of the texts a chat platform brings in its own folder (`strings.ts`,
 * see defineStrings): `adapter.<platform>.<name>`. Core's catalogues hold none.
 */
export type PlatformKey = `adapter.${string}.${string}`;

/** A message to be said later, in a language not known yet (errors carry one). */
export interface Message {
  readonly key: MessageKey | PlatformKey;
  readonly params?: Params | undefined;
}

/** A placeholder's value: text, a number, another message said in the same language, or a list of them (joined by ", "). */
export type Param = string | number | Message | readonly Param[];
export type Params = Readonly<Record<string, Param>>;

/** Says a message in one language; `lang` is that language (for numbers, and for views to carry). */
export interface Translator {
  (key: MessageKey | PlatformKey, params?: Params): string;
  readonly lang: Lang;
}

export const CATALOGUES: Readonly<Record<Lang, Readonly<Record<MessageKey, string>>>> = { en, ru };

const PLURAL_CATEGORIES: Readonly<Record<Lang, readonly Intl.LDMLPluralRule[]>> = {
  en: ["one", "other"],
  ru: ["one", "few", "many"],
};
const pluralRules = Object.fromEntries(LANGS.map((l) => [l, new Intl.PluralRules(l)])) as Record<Lang, Intl.PluralRules>;
/** Made once per language: a formatter made per call costs more than the message it fills. */
const numberFormats = Object.fromEntries(LANGS.map((l) => [l, new Intl.NumberFormat(l === "en" ? "en-US" : l)])) as Record<Lang, Intl.NumberFormat>;

/** A count written out for people in `lang`: "1,234", "1 234". */
export function formatCount(n: number, lang: Lang): string {
  return numberFormats[lang].format(n);
}

/** `{name}` or `{name|form|form…}`. */
export const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)((?:\|[^{}|]*)*)\}/g;

/** The plural forms a language's catalogue writes, in order. */
export function pluralForms(lang: Lang): readonly string[] {
  return PLURAL_CATEGORIES[lang];
}

/**
 * The language for a platform locale (`ru`, `ru-RU`, `en-GB` …): Russian for
 * any `ru*`, English for any `en*`, otherwise the fallback.
 */
export function langOf(locale: string | undefined, fallback: Lang): Lang {
  const primary = locale?.trim().toLowerCase().split(/[-_]/)[0];
  return primary === "ru" ? "ru" : primary === "en" ? "en" : fallback;
}

export function isMessage(value: unknown): value is Message {
  return typeof value === "object" && value !== null && typeof (value as Message).key === "string";
}

/** A message for later: `msg("error.unknown_host", { name })`. */
export function msg(key: MessageKey | PlatformKey, params?: Params): Message {
  return params ? { key, params } : { key };
}

function pluralIndex(lang: Lang, count: number): number {
  const category = pluralRules[lang].select(count);
  const index = PLURAL_CATEGORIES[lang].indexOf(category);
  // Fractions are "other" in Russian; they read like the "few" form (2,5 хоста).
  return index >= 0 ? index : Math.min(1, PLURAL_CATEGORIES[lang].length - 1);
}

/**
 * Says `key` in `lang`. Unknown placeholders stay as written, so a missing
 * parameter shows up instead of vanishing.
 */
export function translate(lang: Lang, key: MessageKey | PlatformKey, params?: Params): string {
  const text = textOf(lang, key) ?? textOf("en", key) ?? key;
  if (!params) return text;
  return text.replace(PLACEHOLDER, (whole, name: string, forms: string) => {
    const value = params[name];
    if (value === undefined) return whole;
    if (forms) {
      const options = forms.slice(1).split("|");
      // A number, or a number already written out for people ("1,234", "1 234").
      const n = typeof value === "number" ? value : typeof value === "string" ? Number(value.replace(/[^\d.-]/g, "")) : NaN;
      return options[pluralIndex(lang, Number.isFinite(n) ? n : 0)] ?? options[options.length - 1] ?? "";
    }
    return said(lang, value);
  });
}

/** Platforms' texts, by language: filled in as each platform's strings module loads. */
const platformTexts: Record<Lang, Record<string, string>> = { en: {}, ru: {} };

function textOf(lang: Lang, key: string): string | undefined {
  const catalogue: Readonly<Record<string, string>> = CATALOGUES[lang] ?? en;
  return Object.hasOwn(catalogue, key) ? catalogue[key] : Object.hasOwn(platformTexts[lang] ?? {}, key) ? platformTexts[lang]![key] : undefined;
}

/** A platform's own texts (see defineStrings), said through the same catalogue machinery. */
export interface PlatformStrings<K extends PlatformKey> {
  /** Every text in every language, as given (the contract test checks they match). */
  readonly catalogues: Readonly<Record<Lang, Readonly<Record<K, string>>>>;
  /** A message for later, like msg(). */
  msg(key: K, params?: Params): Message;
  /** Says a text now, in the language of `t`. */
  say(t: Translator, key: K, params?: Params): string;
}

/**
 * Adds a chat platform's texts to the catalogue: every key in English and
 * Russian, under `adapter.<platform>.` so they never meet core's or another
 * platform's. Called once, by the platform's `strings.ts`, so the texts are
 * there whenever its code is.
 */
export function defineStrings<K extends PlatformKey>(catalogues: {
  readonly en: Readonly<Record<K, string>>;
  readonly ru: Readonly<Record<NoInfer<K>, string>>;
}): PlatformStrings<K> {
  for (const lang of LANGS) {
    for (const [key, text] of Object.entries<string>(catalogues[lang])) {
      const before = platformTexts[lang][key];
      if (before !== undefined && before !== text) throw new Error(`two chat platforms define the text ${key}`);
      platformTexts[lang][key] = text;
    }
  }
  return {
    catalogues,
    msg: (key, params) => (params ? { key, params } : { key }),
    say: (t, key, params) => translate(t.lang, key, params),
  };
}

function said(lang: Lang, value: Param): string {
  if (Array.isArray(value)) return value.map((v: Param) => said(lang, v)).join(", ");
  return isMessage(value) ? translate(lang, value.key, value.params) : String(value);
}

const translators = new Map<Lang, Translator>();

/** The translator for a language (an unknown one, e.g. from an old row, speaks English). */
export function translator(lang: Lang): Translator {
  const known: Lang = lang in CATALOGUES ? lang : "en";
  let t = translators.get(known);
  if (!t) {
    t = Object.assign((key: MessageKey | PlatformKey, params?: Params) => translate(known, key, params), { lang: known });
    translators.set(known, t);
  }
  return t;
}

/** English, for logs, the audit trail and the CLI. */
export const english: Translator = translator("en");

/** Says a message (see msg), or a list of them, in the language of `t`. */
export function say(t: Translator, value: Param): string {
  return said(t.lang, value);
}
