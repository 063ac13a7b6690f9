import type { PeopleLookup } from "../../core/ports.js";

/** The people one can act as in the playground, to try roles and approvals. */
export const IDENTITIES = ["local:alice", "local:bob", "local:admin"] as const;

/** The playground's people always exist and belong to no group. */
export const playgroundPeople: PeopleLookup = {
  lookUp: async (identity) =>
    (IDENTITIES as readonly string[]).includes(identity) ? { state: "present", groups: [] } : { state: "gone", detail: `the playground has no person ${identity}` },
};
