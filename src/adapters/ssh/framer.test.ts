import { describe, expect, it } from "vitest";
import { Framer } from "./shell-session.js";

const marker = Buffer.from("\x1etestum-end 0123456789abcdef ");

/** Feeds `stream` cut at `cuts`; returns what was forwarded and what followed the marker. */
function feed(stream: Buffer, cuts: number[]): { forwarded: Buffer; after: Buffer | undefined } {
  const out: Buffer[] = [];
  const framer = new Framer(marker, (c) => out.push(Buffer.from(c)));
  let after: Buffer | undefined;
  let from = 0;
  for (const to of [...cuts, stream.length]) {
    const rest = framer.push(stream.subarray(from, to));
    from = to;
    if (rest !== undefined) {
      after = Buffer.concat([rest, stream.subarray(to)]);
      break;
    }
  }
  return { forwarded: Buffer.concat(out), after };
}

describe("Framer", () => {
  const before = Buffer.from("output \x1etestum-end 01234 almost a marker\n\x1e\x1etestum");
  const stream = Buffer.concat([before, marker, Buffer.from("0\n")]);

  it("finds the marker split at every byte position across two chunks", () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const { forwarded, after } = feed(stream, [cut]);
      expect(forwarded.toString("latin1"), `cut at ${cut}`).toBe(before.toString("latin1"));
      expect(after?.toString("latin1"), `cut at ${cut}`).toBe("0\n");
    }
  });

  it("finds it when the stream arrives a byte or a few at a time", () => {
    for (const step of [1, 2, 3, 5, 13]) {
      const cuts = [];
      for (let at = step; at < stream.length; at += step) cuts.push(at);
      const { forwarded, after } = feed(stream, cuts);
      expect(forwarded.toString("latin1")).toBe(before.toString("latin1"));
      expect(after?.toString("latin1")).toBe("0\n");
    }
  });

  it("forwards everything, holding back nothing but a possible marker start", () => {
    const out: Buffer[] = [];
    const framer = new Framer(marker, (c) => out.push(c));
    const big = Buffer.alloc(100_000, 0x61);
    expect(framer.push(big)).toBeUndefined();
    // Passed on as it came: no copy of the chunk.
    expect(out[0]!.buffer).toBe(big.buffer);
    expect(framer.push(Buffer.from("tail\x1etestum"))).toBeUndefined();
    expect(Buffer.concat(out).toString("latin1").endsWith("atail")).toBe(true);
  });
});
