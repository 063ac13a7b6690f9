import { describe, expect, it } from "vitest";
import { COMMAND_SPECS } from "../../core/commands/commands.js";
import type { CommandSpec } from "../../core/commands/grammar.js";
import { buildDiscordCommand, completionFor } from "./commands.js";

type Option = { type: number; name: string; description: string; required?: boolean; options?: Option[] } & Record<string, unknown>;

function walk(options: Option[] | undefined, visit: (o: Option) => void): void {
  for (const o of options ?? []) {
    visit(o);
    walk(o.options, visit);
  }
}

describe("buildDiscordCommand", () => {
  it("derives one /testum command from core's specs: a subcommand or a group and subcommand per spec", () => {
    const command = buildDiscordCommand();
    expect(command).toMatchObject({ name: "testum", type: 1, contexts: [0], integration_types: [0] });
    const options = command.options as unknown as Option[];
    for (const spec of COMMAND_SPECS) {
      const [first, second] = spec.path;
      const top = options.find((o) => o.name === first)!;
      const sub = second === undefined ? top : top.options!.find((o) => o.name === second)!;
      expect(top.type, spec.path.join(" ")).toBe(second === undefined ? 1 : 2);
      // Descriptions are the summaries, shortened where the 4,000-character budget needs it.
      expect(sub.type).toBe(1);
      expect(spec.summary.startsWith(sub.description.replace(/…$/, ""))).toBe(true);
      expect(sub.description.length).toBeGreaterThanOrEqual(Math.min(20, spec.summary.length));
      const names = (sub.options ?? []).map((o) => o.name);
      expect(new Set(names)).toEqual(new Set([...spec.args.map((a) => a.name), ...(spec.flags ?? []).map((f) => f.name)]));
    }
    const run = options.find((o) => o.name === "run")!;
    expect(run.options!.find((o) => o.name === "target")).toMatchObject({ type: 3, required: true, autocomplete: true });
    expect(run.options!.find((o) => o.name === "timeout")).toMatchObject({ type: 3, required: false });
    let size = command.name.length + command.description.length;
    walk(options, (o) => {
      size += o.name.length + o.description.length;
      expect(o.name).toMatch(/^[-_\p{L}\p{N}]{1,32}$/u);
      expect(o.description.length).toBeGreaterThan(0);
      expect(o.description.length).toBeLessThanOrEqual(100);
      expect((o.options ?? []).length).toBeLessThanOrEqual(25);
    });
    expect(size).toBeLessThanOrEqual(4000);
    expect(buildDiscordCommand()).toEqual(command);
  });

  it("maps argument and flag kinds to option types, required ones first", () => {
    const spec: CommandSpec<unknown> = {
      path: ["job", "tail"],
      summary: "s".repeat(150),
      args: [
        { name: "note", kind: "word", description: "n", optional: true },
        { name: "id", kind: "int", description: "a job id" },
      ],
      flags: [
        { name: "follow", kind: "boolean", description: "f" },
        { name: "lines", kind: "int", description: "l", min: 1, max: 500 },
      ],
      build: () => ({}),
    };
    const [group] = buildDiscordCommand([spec]).options as unknown as Option[];
    const sub = group!.options![0]!;
    expect(sub.description).toHaveLength(100);
    expect(sub.options!.map((o) => [o.name, o.type, o.required])).toEqual([
      ["id", 4, true],
      ["note", 3, false],
      ["follow", 5, false],
      ["lines", 4, false],
    ]);
    expect(sub.options![3]).toMatchObject({ min_value: 1, max_value: 500 });
  });

  it("refuses what Discord cannot express", () => {
    const spec = (path: string[], arg = "x"): CommandSpec<unknown> => ({ path, summary: "s", args: [{ name: arg, kind: "word", description: "d" }], build: () => ({}) });
    expect(() => buildDiscordCommand([spec(["a", "b", "c"])])).toThrow(/two words/);
    expect(() => buildDiscordCommand([spec(["run"], "Target")])).toThrow(/cannot be a Discord/);
  });

  it("knows which options complete from the host registry", () => {
    expect(completionFor(["run"], "target")).toBe("target");
    expect(completionFor(["run"], "command")).toBeUndefined();
    expect(COMMAND_SPECS.length).toBeGreaterThan(0);
  });
});
