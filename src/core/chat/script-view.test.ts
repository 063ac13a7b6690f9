import { describe, expect, it } from "vitest";
import { renderRequest } from "../access/approvals.js";
import { renderParent } from "./job-view.js";
import { english } from "./i18n.js";
import type { Job } from "../jobs/jobs.js";

const script = (lines: number) => ["#!/bin/bash", ...Array.from({ length: lines - 1 }, (_, i) => `echo step ${i + 1}`)].join("\n");
const job = (command: string) =>
  ({
    id: 7,
    kind: "script",
    command,
    target: "web-1",
    status: "awaiting_approval",
    requestedBy: "local:alice",
    requestedByName: "alice",
    logToken: "tok",
    approvalReasons: ["rm -rf"],
    approvalsRequired: 1,
    approvalExpiresAt: null,
    options: {},
    lang: "en",
  }) as unknown as Job;
const codeOf = (blocks: readonly { type: string }[]) => (blocks.find((b) => b.type === "code") as { lines: readonly string[] } | undefined)?.lines ?? [];

describe("what a script's messages show", () => {
  it("shows an approver a short script whole", () => {
    const view = renderRequest(job(script(5)), ["web-1"], [], english, undefined, "https://t.example");
    expect(codeOf(view.blocks)).toEqual(script(5).split("\n"));
    expect(JSON.stringify(view)).not.toContain("/jobs/7");
  });

  it("shows the first lines of a long script, says how many are left out and links to all of it", () => {
    const view = renderRequest(job(script(200)), ["web-1"], [], english, undefined, "https://t.example");
    expect(codeOf(view.blocks).slice(0, 3)).toEqual(["#!/bin/bash", "echo step 1", "echo step 2"]);
    expect(codeOf(view.blocks).length).toBe(25);
    expect(JSON.stringify(view)).toContain("The first 25 of 200 lines.");
    const links = view.blocks.filter((b) => b.type === "links").flatMap((b) => (b as { readonly links: ReadonlyArray<{ url: string }> }).links);
    expect(links[0]!.url).toBe("https://t.example/jobs/7/tok");
    expect(view.blocks.find((b) => b.type === "fields")).toMatchObject({ fields: expect.arrayContaining([{ label: "Script", value: "200 lines, below" }]) });
  });

  it("shows the channel a script's first lines in the parent, not only its #! line", () => {
    const view = renderParent(job(script(3)), [{ hostName: "web-1", status: "awaiting_approval" } as never], "https://t.example", english);
    expect(codeOf(view.blocks)).toEqual(["#!/bin/bash", "echo step 1", "echo step 2"]);
  });

  it("shows the time limit on a job that was stopped at it", () => {
    const stopped = { ...job("sleep 60"), kind: "command", status: "timed_out", timeoutMs: 3000, startedAt: new Date(0), finishedAt: new Date(3100) } as unknown as Job;
    const view = renderParent(
      stopped,
      [{ hostName: "web-1", status: "timed_out", exitCode: null, startedAt: new Date(0), finishedAt: new Date(3100) } as never],
      "https://t.example",
      english,
    );
    expect(view.blocks.find((b) => b.type === "fields")).toMatchObject({ fields: expect.arrayContaining([{ label: "Time limit", value: "3.0s" }]) });
  });
});
