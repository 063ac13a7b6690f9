import { describe, expect, it } from "vitest";
import { task } from "./helpers/tasks.js";
import { renderMessage } from "../src/adapters/discord/render.js";
import { renderView } from "../src/adapters/slack/render.js";
import { renderSummary } from "../src/core/jobs/fanout.js";
import type { Job } from "../src/core/jobs/jobs.js";

const job = { id: 1, logToken: "tok", command: "cmd", target: "all", requestedBy: "slack:T:U", requestedByName: null, status: "failed" } as unknown as Job;

describe("the summary of a job on 500 hosts on both platforms", () => {
  it("keeps a 500-host summary within Slack's and Discord's limits, pointing at the report for the rest", () => {
    const tasks = Array.from({ length: 500 }, (_, i) =>
      task(
        i,
        i % 7 === 0 ? "failed" : i % 11 === 0 ? "timed_out" : "succeeded",
        i % 7 === 0 ? (i % 5) + 1 : i % 11 === 0 ? null : 0,
        `${"line of output ".repeat(20)}\n`.repeat(30) + `distinct ${i % 13}`,
      ),
    );
    const view = renderSummary(job, tasks, "https://testum.example");
    expect(JSON.stringify(view)).toContain("https://testum.example/reports/tok");
    expect(JSON.stringify(view)).toMatch(/more groups? \(\d+ hosts\) are in the full report/);

    const slack = renderView(view);
    expect(slack.blocks.length).toBeLessThanOrEqual(50);
    const slackText = JSON.stringify(slack.blocks);
    expect(slackText).toContain("/reports/tok");
    let total = 0;
    const walk = (n: unknown): void => {
      if (Array.isArray(n)) n.forEach(walk);
      else if (n && typeof n === "object")
        for (const [k, v] of Object.entries(n)) k === "text" && typeof v === "string" ? ((total += v.length), expect(v.length).toBeLessThanOrEqual(3000)) : walk(v);
    };
    walk(slack.blocks);
    expect(total).toBeLessThanOrEqual(12_000);

    const discord = renderMessage(view);
    expect(discord.content!.length).toBeLessThanOrEqual(2000);
    const embed = discord.embeds![0]!;
    const embedTotal =
      (embed.title?.length ?? 0) +
      (embed.description?.length ?? 0) +
      (embed.footer?.text.length ?? 0) +
      (embed.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0);
    expect(embedTotal).toBeLessThanOrEqual(6000);
    expect(embed.description!.length).toBeLessThanOrEqual(4096);
    expect(JSON.stringify(discord)).toContain("/reports/tok");
    expect(embed.footer!.text).toMatch(/more groups? \(\d+ hosts\) are in the full report/);
  });
});

describe("groups of failures", () => {
  const failed = (i: number, error: string) => ({ ...task(i, "failed", null, ""), errorCode: "host_key_mismatch", error, logKey: null, outputHash: null });

  it("keeps hosts whose errors differ apart, so both hosts' fingerprints are shown", () => {
    const tasks = [
      failed(1, "host key of host-001 changed: pinned SHA256:aaaa, presented SHA256:bbbb"),
      failed(2, "host key of host-002 changed: pinned SHA256:cccc, presented SHA256:dddd"),
    ];
    const view = renderSummary(job, tasks, "https://testum.example");
    const text = JSON.stringify(view);
    for (const fp of ["SHA256:aaaa", "SHA256:bbbb", "SHA256:cccc", "SHA256:dddd"]) expect(text).toContain(fp);
    expect(view.blocks.filter((b) => b.type === "heading")).toHaveLength(3);
  });

  it("groups hosts whose errors differ only in the host's name, and names them all", () => {
    const tasks = [1, 2, 3].map((i) => failed(i, `could not connect to host-00${i}: connection refused`));
    const view = renderSummary(job, tasks, "https://testum.example");
    const texts = view.blocks.filter((b) => b.type === "text").map((b) => (b as { text: string }).text);
    expect(texts).toContain("could not connect to host-[001-003]: connection refused");
  });

  it("says how many logs are not linked, and cuts long lines with an ellipsis", () => {
    const tasks = Array.from({ length: 6 }, (_, i) => task(i, "succeeded", 0, `${"x".repeat(120)}\n`));
    const view = renderSummary(job, tasks, "https://testum.example");
    const links = view.blocks.filter((b) => b.type === "links").flatMap((b) => (b as { readonly links: ReadonlyArray<{ label: string; url: string }> }).links);
    expect(links.map((l) => l.label)).toContain("+2 more in the full report");
    expect(links.find((l) => l.label.startsWith("+2"))!.url).toBe("https://testum.example/reports/tok");
    const code = view.blocks.find((b) => b.type === "code") as { readonly lines: readonly string[] };
    expect(code.lines[0]).toMatch(/^x+…$/);
    expect(code.lines[0]!.length).toBe(75);
  });
});
