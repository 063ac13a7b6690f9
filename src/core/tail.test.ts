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
