import { describe, expect, it } from "vitest";
import { formerNames } from "./audit-actions.js";

describe("formerNames", () => {
  it("finds the names older records used for an action: the command as typed, or an older name", () => {
    expect(formerNames("host.remove")).toEqual(["hosts.rm"]);
    expect(formerNames("job.list")).toEqual(["jobs.list"]);
    expect(formerNames("schedule.approve")).toEqual(["schedule.approval"]);
    expect(formerNames("schedule.remove")).toEqual(["schedule.rm"]);
  });

  it("has none for an action recorded under its own name", () => {
    expect(formerNames("keys.list")).toEqual([]);
    expect(formerNames("help")).toEqual([]);
  });
});
