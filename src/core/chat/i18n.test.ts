import { describe, expect, it } from "vitest";
import { COMMAND_SPECS } from "../commands/commands.js";
import { localUsage, usageOf } from "../commands/grammar.js";
import { HELP_GROUPS, helpLines, helpView } from "../commands/help.js";
import { NotAllowedError, TestumError, UsageError } from "../errors.js";
import { CATALOGUES, LANGS, langOf, msg, PLACEHOLDER, pluralForms, translate, translator, type Lang } from "./i18n.js";
import { errorView } from "./replies.js";

const silent = { debug() {}, info() {}, warn() {}, error() {} } as never;

/** Every placeholder of a text: its name, and how many plural forms it gives (0 for a plain one). */
function placeholders(text: string): Array<{ name: string; forms: number }> {
  return [...text.matchAll(PLACEHOLDER)].map((m) => ({ name: m[1]!, forms: m[2] ? m[2].slice(1).split("|").length : 0 }));
}

const names = (text: string) => [...new Set(placeholders(text).map((p) => p.name))].sort();

describe("the catalogues", () => {
  const keys = (lang: Lang) => Object.keys(CATALOGUES[lang]).sort();

  it("have the same keys in every language", () => {
    for (const lang of LANGS) expect(keys(lang), lang).toEqual(keys("en"));
  });

  it("use the same placeholders for each key in every language", () => {
    for (const lang of LANGS) {
      for (const [key, text] of Object.entries(CATALOGUES.en)) {
        expect(names(CATALOGUES[lang][key as keyof typeof CATALOGUES.en]), `${lang} ${key}`).toEqual(names(text));
      }
    }
  });

  it("give each plural placeholder the language's number of forms", () => {
    for (const lang of LANGS) {
      for (const [key, text] of Object.entries(CATALOGUES[lang])) {
        for (const p of placeholders(text).filter((p) => p.forms > 0)) expect(p.forms, `${lang} ${key} {${p.name}}`).toBe(pluralForms(lang).length);
      }
    }
  });

  it("have no empty or untranslated-looking texts", () => {
    for (const lang of LANGS) {
      for (const [key, text] of Object.entries(CATALOGUES[lang])) {
        expect(text.trim(), `${lang} ${key}`).not.toBe("");
        expect(text, `${lang} ${key}`).toBe(text.trimEnd());
      }
    }
    // Only texts that are nothing but placeholders and signs read the same in Russian.
    const same = Object.keys(CATALOGUES.en).filter((key) => CATALOGUES.ru[key as keyof typeof CATALOGUES.en] === CATALOGUES.en[key as keyof typeof CATALOGUES.en]);
    expect(same.sort()).toEqual(["error.known", "jobs.logs.link", "list.semicolon", "meta.cron"]);
  });

  it("describe every command, argument and option", () => {
    for (const spec of COMMAND_SPECS) {
      expect(spec.summaryKey, spec.path.join(" ")).toBeDefined();
      expect(translate("en", spec.summaryKey!)).toBe(spec.summary);
      for (const item of [...spec.args, ...(spec.flags ?? [])]) {
        expect(item.descriptionKey, `${spec.path.join(" ")} ${item.name}`).toBeDefined();
        expect(translate("en", item.descriptionKey!)).toBe(item.description);
      }
    }
  });
});

describe("langOf", () => {
  it("reads the language from a platform locale, else falls back", () => {
    expect(langOf("ru", "en")).toBe("ru");
    expect(langOf("ru-RU", "en")).toBe("ru");
    expect(langOf("RU_ru", "en")).toBe("ru");
    expect(langOf("en-GB", "ru")).toBe("en");
    expect(langOf("en", "ru")).toBe("en");
    expect(langOf("de-DE", "ru")).toBe("ru");
    expect(langOf("fr", "en")).toBe("en");
    expect(langOf("", "ru")).toBe("ru");
    expect(langOf(undefined, "en")).toBe("en");
    expect(langOf(undefined, "ru")).toBe("ru");
  });
});

describe("translate", () => {
  it("fills placeholders, and leaves a missing one as written", () => {
    expect(translate("en", "hosts.unknown_short", { name: "web-1" })).toBe("no host named web-1");
    expect(translate("ru", "hosts.unknown_short", { name: "web-1" })).toBe("хоста с именем web-1 нет");
    expect(translate("en", "hosts.unknown_short")).toBe("no host named {name}");
  });

  it("picks plural forms by the language's rules", () => {
    const hosts = (lang: Lang, count: number) => translate(lang, "hosts.list.title", { count });
    expect([1, 2, 5].map((n) => hosts("en", n))).toEqual(["1 host", "2 hosts", "5 hosts"]);
    expect([1, 2, 5, 11, 21, 22, 25, 0].map((n) => hosts("ru", n))).toEqual(["1 хост", "2 хоста", "5 хостов", "11 хостов", "21 хост", "22 хоста", "25 хостов", "0 хостов"]);
    // A number already written out for people counts too.
    expect(translate("ru", "adapter.earlier_lines", { n: (1234).toLocaleString("ru") })).toBe("… ещё 1\u00a0234 строки выше — в полном логе");
    expect(translate("en", "adapter.earlier_lines", { n: "1,234" })).toBe("… 1,234 earlier lines in the full log");
  });

  it("says nested messages and lists in the same language", () => {
    const where = msg("access.where.hosts", { hosts: msg("list.and_more", { items: ["a", "b"], count: 3 }) });
    expect(translate("en", "access.refusal", { role: "operator", right: "run", where, have: msg("access.no_roles"), identity: "slack:T:U" })).toBe(
      "you need operator (the run right) on a, b and 3 more. You have: no roles. Your identity is slack:T:U; an admin can grant it.",
    );
    expect(translate("ru", "access.refusal", { role: "operator", right: "run", where, have: msg("access.no_roles"), identity: "slack:T:U" })).toBe(
      "нужна роль operator (право run) на a, b и ещё 3. Ваши роли: ролей нет. Ваш идентификатор — slack:T:U; выдать роль может админ.",
    );
  });

  it("gives translators that know their language; an unknown one speaks English", () => {
    expect(translator("ru").lang).toBe("ru");
    expect(translator("xx" as Lang).lang).toBe("en");
    expect(translator("xx" as Lang)("reply.done")).toBe("✅ Done.");
  });
});

describe("errors in the reader's language", () => {
  it("keep the English message for logs and say the catalogue text in chat", () => {
    const err = new TestumError("unknown_host", msg("hosts.unknown", { name: "db-9" }));
    expect(err.message).toBe("no host named db-9. /testum hosts lists the known hosts.");
    expect(err.say(translator("ru"))).toBe("хоста с именем db-9 нет. Список известных хостов: /testum hosts.");
    expect(new TestumError("conflict", "plain words").say(translator("ru"))).toBe("plain words");
  });

  it("errorView shows refusals, usage and internal errors in the reader's language", () => {
    const ru = translator("ru");
    const refusal = errorView(new NotAllowedError(msg("approval.own_job", { id: 7 })), silent, ru);
    expect(refusal.blocks[0]).toEqual({ type: "text", text: "🚫 Нет доступа: задание #7 запросили вы, поэтому одобрить его не можете: нужен кто-то другой" });
    const usage = errorView(new UsageError(msg("usage.flag_needs_value", { flag: "timeout" }), "/testum run TARGET"), silent, ru);
    expect(usage.blocks).toEqual([
      { type: "text", text: "⚠️ для --timeout нужно значение" },
      { type: "context", text: "Использование: /testum run ЦЕЛЬ" },
    ]);
    expect(errorView(new Error("boom"), silent, ru).text).toMatch(/^⚠️ внутренняя ошибка \(инцидент [0-9a-f]{8}\)/);
    expect(errorView(new Error("boom"), silent).text).toMatch(/^⚠️ internal error \(incident [0-9a-f]{8}\)/);
  });
});

describe("help", () => {
  it("shows every command once, grouped, one line each, with examples", () => {
    const view = helpView(undefined);
    const headings = view.blocks.filter((b) => b.type === "heading").map((b) => (b as { text: string }).text);
    expect(headings).toEqual(["testum commands", "Run commands and follow jobs", "Hosts", "Team SSH keys", "Access, approvals and audit", "Schedules"]);
    const lines = view.blocks.flatMap((b) => (b.type === "text" ? b.text.split("\n") : []));
    expect(lines).toHaveLength(COMMAND_SPECS.filter((s) => HELP_GROUPS.some((g) => g.words.includes(s.path[0]!))).length);
    expect(lines).toContain("/testum run TARGET 'COMMAND' — Run a shell command on hosts");
    expect(lines.some((l) => l.startsWith("/testum hosts add HOST ADDRESS"))).toBe(true);
    // Short forms: no options in the overview.
    expect(lines.filter((l) => l.includes("--"))).toEqual([]);
    const examples = view.blocks.filter((b) => b.type === "context").map((b) => (b as { text: string }).text);
    expect(examples[0]).toContain("e.g. /testum run web-1 'df -h'");
    expect(examples.at(-1)).toContain("/testum help COMMAND");
    // Every group word is a topic of its own.
    for (const group of HELP_GROUPS) expect(helpLines(group.name).length).toBeGreaterThan(0);
    expect(helpLines("hosts")[0]).toMatch(/^\/testum hosts list/);
    expect(helpLines("hosts").some((l) => l.startsWith("/testum identity"))).toBe(true);
    expect(helpLines("schedule")).toEqual(helpLines("schedules"));
    expect(() => helpLines("nosuch")).toThrow(/no command called "nosuch"/);
  });

  it("puts options after the arguments, named for what they take, in the reader's language", () => {
    const ru = helpLines("run", translator("ru"));
    expect(ru[0]).toBe(
      "/testum run ЦЕЛЬ 'КОМАНДА' [--timeout ДЛИТЕЛЬНОСТЬ] [--parallel ЧИСЛО] [--batch ЧИСЛО] [--max-failures ЧИСЛО] [--dry-run]  Выполнить shell-команду на хостах",
    );
    expect(ru[1]).toMatch(/^ {2}ЦЕЛЬ: Хосты: /);
    expect(helpLines("hosts tag", translator("ru"))[0]).toMatch(/^\/testum hosts tag ХОСТ ТЕГИ…/);
    // Every placeholder a usage line shows has its words in Russian.
    const everyUsage = COMMAND_SPECS.map((s) => usageOf(s)).join(" ");
    expect(
      localUsage(everyUsage, translator("ru"))
        .match(/\b[A-Z]{2,}\b/g)
        ?.filter((w) => w !== "CRON") ?? [],
    ).toEqual([]);
    expect(ru).toContain("  --dry-run: Показать, на каких хостах запустилось бы, и ничего не запускать");
    expect(helpLines("schedule")[0]).toContain("[--tz TZ] [--name NAME]");
    expect(helpView(undefined, translator("ru")).blocks[1]).toEqual({ type: "heading", text: "Запуск команд и задания" });
  });
});
