import { grant } from "../../core/access/access.js";
import type { CoreConfig, SettingsOf } from "../../core/config.js";
import type { Sql } from "../../core/db.js";
import type { Connected, Off, PlatformServices } from "../platform.js";
import { createPlaygroundChat } from "./chat.js";
import type { playgroundConfig } from "./config.js";
import { newPlaygroundKey } from "./guard.js";
import { createPlayground } from "./http.js";
import { playgroundPeople } from "./people.js";
import { createPlaygroundStore } from "./store.js";
import { placePlayground, type PlaygroundPlace } from "./where.js";

type PlaygroundSettings = SettingsOf<typeof playgroundConfig> & Pick<CoreConfig, "PORT" | "PUBLIC_URL">;

/**
 * The playground: on when asked (PLAYGROUND=on), or when no chat platform is
 * configured (auto). Its people have rights only while it is testum's only
 * chat: next to a chat platform, local:* identities hold nothing but what an
 * admin grants them by name.
 */
export async function connectPlayground(config: PlaygroundSettings, { sql, log, chatPlatformsOn }: PlatformServices): Promise<Connected | Off> {
  const alone = chatPlatformsOn === 0;
  const on = config.PLAYGROUND === "on" || (config.PLAYGROUND === "auto" && alone);
  if (on && alone) await seedPlaygroundRoles(sql);
  else if (await dropPlaygroundRoles(sql)) log.warn({}, "removed the playground's demo roles (local:alice, local:bob): a chat platform is configured");
  if (!on) return { off: `playground: off (${config.PLAYGROUND === "off" ? "PLAYGROUND=off" : "a chat platform is configured; PLAYGROUND=on turns it on"})` };
  return {
    adapter: createPlaygroundChat(createPlaygroundStore(sql)),
    people: playgroundPeople,
    admins: alone ? ["local:admin"] : [],
    async listen({ core, serve }) {
      const key = newPlaygroundKey();
      let place: PlaygroundPlace | undefined;
      const playground = createPlayground({ sql, core, log, access: { key, allowedHosts: () => place?.allowedHosts ?? [] } });
      const placed = (where: PlaygroundPlace) => {
        place = where;
        if (where.warning) log.warn({ playgroundHost: config.PLAYGROUND_HOST }, where.warning);
      };
      const inbound = { startUrl: () => place?.startUrl, stop: () => playground.close() };
      if (alone) {
        // Only the playground: the whole web side stays on the local address.
        return {
          ...inbound,
          routes: playground.routes,
          host: config.PLAYGROUND_HOST,
          listening(port: number) {
            const where = placePlayground(config.PLAYGROUND_HOST, port, key, config.PUBLIC_URL);
            log.info({ port }, `playground: on (no chat platform is configured). Open ${where.startUrl}`);
            placed(where);
          },
        };
      }
      const port = await serve(playground.routes, config.PLAYGROUND_PORT ?? config.PORT + 1, config.PLAYGROUND_HOST);
      const where = placePlayground(config.PLAYGROUND_HOST, port, key, undefined);
      log.info({ port }, `playground: on (PLAYGROUND=on; local:* identities hold only roles granted to them). Open ${where.startUrl}`);
      placed(where);
      return inbound;
    },
  };
}

/** Removes the roles seedPlaygroundRoles gave; true when there were some. */
async function dropPlaygroundRoles(sql: Sql): Promise<boolean> {
  const rows = await sql`delete from role_bindings where created_by = 'playground' and subject like 'local:%' returning id`;
  return rows.length > 0;
}

/** The playground's people: alice may run, bob may approve, admin may do anything (see TESTUM_ADMINS). */
async function seedPlaygroundRoles(sql: Sql): Promise<void> {
  await grant(sql, "playground", "local:alice", "operator", "*");
  await grant(sql, "playground", "local:bob", "approver", "*");
}
