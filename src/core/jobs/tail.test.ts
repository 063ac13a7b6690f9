import { describe, expect, it } from "vitest";
import { fitTail, MAX_LINE_CHARS, sanitizeLine, TailBuffer } from "./tail.js";

describe("sanitizeLine", () => {
  it("removes ANSI colours, control characters and progress redraws", () => {
    expect(sanitizeLine("\x1b[31mred\x1b[0m done")).toBe("red done");
    expect(sanitizeLine("a\x07b\x00c")).toBe("abc");
    expect(sanitizeLine("10%\r50%\r100%")).toBe("100%");
    expect(sanitizeLine("\x1b]0;title\x07text")).toBe("text");
  });

  it("breaks code fences and caps line length", () => {
    expect(sanitizeLine("```")).not.toContain("```");
    const long = sanitizeLine("x".repeat(1000));
    expect(long.length).toBe(MAX_LINE_CHARS);
    expect(long.endsWith("…")).toBe(true);
  });
});

describe("TailBuffer", () => {
  it("keeps the last lines and counts all of them, with bounded memory", () => {
    const tail = new TailBuffer(3);
    for (let i = 1; i <= 10_000; i++) tail.push(`${i}\n`);
    expect(tail.snapshot()).toEqual({ lines: ["9998", "9999", "10000"], omitted: 9997 });
    expect(tail.lineCount).toBe(10_000);
  });

  it("decodes characters split across chunks and shows an unterminated last line", () => {
    const tail = new TailBuffer();
    const bytes = Buffer.from("héllo wörld\npartial");
    tail.push(bytes.subarray(0, 2));
    tail.push(bytes.subarray(2, 9));
    tail.push(bytes.subarray(9));
    expect(tail.snapshot().lines).toEqual(["héllo wörld", "partial"]);
    expect(tail.lineCount).toBe(2);
  });
});

describe("TailBuffer on large output", () => {
  it("counts every line of a stream far larger than its window and shows the newest whole lines", () => {
    const tail = new TailBuffer(5, 1024);
    const line = (i: number) => `line ${String(i).padStart(7, "0")} ${"x".repeat(80)}\n`;
    // 1 MiB-ish chunks cut at arbitrary points, lines split across them.
    let text = "";
    for (let i = 1; i <= 20_000; i++) text += line(i);
    const bytes = Buffer.from(text);
    for (let at = 0; at < bytes.length; at += 7777) tail.push(bytes.subarray(at, at + 7777));
    expect(tail.lineCount).toBe(20_000);
    const snap = tail.snapshot();
    expect(snap.lines).toEqual([19_996, 19_997, 19_998, 19_999, 20_000].map((i) => line(i).trimEnd()));
    expect(snap.omitted).toBe(19_995);
  });

  it("keeps only about its window of bytes, however much arrives", () => {
    const tail = new TailBuffer(200, 4096);
    const chunk = Buffer.alloc(1000, 0x61);
    for (let i = 0; i < 10_000; i++) tail.push(chunk);
    const held = (tail as unknown as { chunks: Buffer[]; head: number }).chunks.slice((tail as unknown as { head: number }).head);
    expect(held.reduce((n, c) => n + c.length, 0)).toBeLessThanOrEqual(4096 + 1000);
    // One unterminated line of 10 MB: shown as one capped line.
    expect(tail.lineCount).toBe(1);
    expect(tail.snapshot().lines).toEqual(["a".repeat(MAX_LINE_CHARS - 1) + "…"]);
  });

  it("never shows half a character where the window starts or where the output stops", () => {
    const tail = new TailBuffer(10, 16);
    // "é" is 2 bytes: the 16-byte window starts inside one when there is no newline to cut at.
    tail.push(Buffer.from("éééééééééééééééééééé"));
    expect(tail.snapshot().lines[0]).toMatch(/^é+$/);
    const partial = new TailBuffer();
    partial.push(Buffer.from("ok\n"));
    partial.push(Buffer.from("€").subarray(0, 2));
    expect(partial.snapshot().lines).toEqual(["ok"]);
    partial.push(Buffer.from("€").subarray(2));
    expect(partial.snapshot().lines).toEqual(["ok", "€"]);
  });

  it("counts lines ended by CRLF once and shows them without the carriage return", () => {
    const tail = new TailBuffer();
    tail.push("a\r\nb\r\n");
    expect(tail.lineCount).toBe(2);
    expect(tail.snapshot()).toEqual({ lines: ["a", "b"], omitted: 0 });
  });
});

describe("fitTail", () => {
  it("keeps whole lines from the end that fit", () => {
    expect(fitTail(["aaaa", "bbbb", "cccc"], 9)).toEqual({ text: "bbbb\ncccc", omitted: 1 });
    expect(fitTail(["aaaa", "bbbb", "cccc"], 100)).toEqual({ text: "aaaa\nbbbb\ncccc", omitted: 0 });
  });

  it("cuts the start of a single line that is too long", () => {
    const out = fitTail(["0123456789"], 5);
    expect(out.text).toBe("…6789");
    expect(out.text.length).toBe(5);
  });
});
