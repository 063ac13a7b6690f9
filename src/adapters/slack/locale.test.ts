import { describe, expect, it } from "vitest";
import { createLocaleLookup } from "./people.js";

const silent = { debug() {}, info() {}, warn() {}, error() {} } as never;

/** A users.info that answers after `ms`, counting its calls; `locale` can be changed between calls. */
function slowUsers(ms: number, locale: string | Error) {
  const calls: string[] = [];
  const client = {
    locale,
    users: {
      info: async (args: { user: string; include_locale?: boolean }) => {
        calls.push(`${args.user}:${String(args.include_locale)}`);
        const answer = client.locale;
        await new Promise((r) => setTimeout(r, ms));
        if (answer instanceof Error) throw answer;
        return { ok: true, user: { id: args.user, locale: answer } };
      },
    },
  };
  return { client: client as never, calls, set: (next: string) => void (client.locale = next) };
}

describe("the Slack locale lookup", () => {
  it("asks users.info with include_locale once, then answers from its cache", async () => {
    const { client, calls } = slowUsers(5, "ru-RU");
    const localeOf = createLocaleLookup(client, silent, 500);
    expect(await localeOf("T1", "U1")).toBe("ru-RU");
    expect(await localeOf("T1", "U1")).toBe("ru-RU");
    expect(calls).toEqual(["U1:true"]);
  });

  it("does not wait past its limit: a slow answer counts next time", async () => {
    const { client, calls } = slowUsers(200, "ru-RU");
    const localeOf = createLocaleLookup(client, silent, 20);
    const started = Date.now();
    expect(await localeOf("T1", "U2")).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(150);
    await new Promise((r) => setTimeout(r, 250));
    expect(await localeOf("T1", "U2")).toBe("ru-RU");
    expect(calls).toHaveLength(1);
  });

  it("past its time, answers with the locale it has at once while users.info is asked again", async () => {
    const { client, calls, set } = slowUsers(250, "ru-RU");
    const localeOf = createLocaleLookup(client, silent, 1000, 50);
    expect(await localeOf("T1", "U4")).toBe("ru-RU");
    set("en-US");
    await new Promise((r) => setTimeout(r, 60));
    const started = Date.now();
    expect(await localeOf("T1", "U4")).toBe("ru-RU");
    // Waiting for the new read would take its 250 ms.
    expect(Date.now() - started).toBeLessThan(150);
    expect(calls).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 700));
    expect(await localeOf("T1", "U4")).toBe("en-US");
  });

  it("answers undefined when users.info refuses", async () => {
    const { client } = slowUsers(1, new Error("missing_scope"));
    expect(await createLocaleLookup(client, silent, 500)("T1", "U3")).toBeUndefined();
  });
});
