import { describe, expect, it } from "vitest";
import { task } from "./helpers/tasks.js";
import { compactNames, countTasks, groupResults, progressBar } from "../src/core/jobs/fanout.js";

describe("compactNames", () => {
  it("writes runs of numbered hosts as ranges, keeping their padding", () => {
    expect(compactNames(Array.from({ length: 38 }, (_, i) => `web-${String(i + 1).padStart(2, "0")}`))).toBe("web-[01-38]");
    expect(compactNames(["web-01", "web-02", "web-03", "web-05", "web-07", "web-08"])).toBe("web-[01-03,05,07-08]");
    expect(compactNames(["db-1", "db-2", "db-3", "web-01", "cache"])).toBe("cache, db-[1-3], web-01");
    expect(compactNames(["node3.eu", "node1.eu", "node2.eu"])).toBe("node[1-3].eu");
    expect(compactNames(["a", "a"])).toBe("a");
  });
});

describe("results of many hosts", () => {
  it("groups identical results, failures first", () => {
    const tasks = [task(1, "succeeded", 0, "ok"), task(2, "failed", 2, "no"), task(3, "succeeded", 0, "ok"), task(4, "failed", 1, "no")];
    expect(groupResults(tasks).map((g) => [g.status, g.exitCode, g.hosts])).toEqual([
      ["failed", 2, ["host-002"]],
      ["failed", 1, ["host-004"]],
      ["succeeded", 0, ["host-001", "host-003"]],
    ]);
    expect(progressBar(countTasks(tasks), 10)).toBe("▓▓▓▓▓▓▓▓▓▓ 100%");
  });
});
