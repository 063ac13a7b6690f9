const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration such as `500ms`, `30s`, `10m`, `1h30m` or `2d` into
 * milliseconds. Returns undefined for anything else (a bare number included:
 * a unit is required so `30` can never be mistaken for 30 ms or 30 minutes).
 */
export function parseDuration(text: string): number | undefined {
  const input = text.trim().toLowerCase();
  if (!/^(\d+(ms|s|m|h|d))+$/.test(input)) return undefined;
  let total = 0;
  for (const [, amount, unit] of input.matchAll(/(\d+)(ms|s|m|h|d)/g)) {
    total += Number(amount) * (UNIT_MS[unit!] ?? 0);
  }
  return total > 0 ? total : undefined;
}

/** Unit words and the decimal sign of each language ("12.3s", "12,3 с"). */
const UNITS = {
  en: { ms: "ms", s: "s", m: "m", h: "h", sep: "", comma: "." },
  ru: { ms: "мс", s: "с", m: "мин", h: "ч", sep: "\u00a0", comma: "," },
} as const;

/**
 * Formats milliseconds for people, in their language: `850ms`, `12.3s`,
 * `4m 05s`, `2h 03m`; in Russian `850 мс`, `12,3 с`, `4 мин 05 с`, `2 ч 03 мин`.
 */
export function formatDuration(ms: number, lang: "en" | "ru" = "en"): string {
  const u = UNITS[lang] ?? UNITS.en;
  const unit = (n: string | number, word: string) => `${n}${u.sep}${word}`;
  if (ms < 1000) return unit(Math.max(0, Math.round(ms)), u.ms);
  if (ms < 60_000) return unit((ms / 1000).toFixed(1).replace(".", u.comma), u.s);
  const totalSeconds = Math.round(ms / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return `${unit(hours, u.h)} ${unit(String(minutes).padStart(2, "0"), u.m)}`;
  return `${unit(minutes, u.m)} ${unit(String(seconds).padStart(2, "0"), u.s)}`;
}
