/**
 * The deployment's public URL, kept with the database (table `deployment`, key `public_url`).
 *
 * Everything Sidian signs names it (status-list URLs in licences, CRL distribution points in certificates, QR and
 * copy links), so a command run from a shell without the server's environment must not sign another one. The
 * first process to open a database records the URL it was configured with; later ones compare:
 *   - the same URL: fine;
 *   - a process whose environment names no URL (neither SIDIAN_PUBLIC_URL nor SIDIAN_HOST/SIDIAN_PORT) and that
 *     may adopt one (every command but `serve`) takes the recorded URL;
 *   - anything else is refused (CONFIG_INVALID, one line naming both URLs and what to do).
 */
import { AppError } from "../errors.js";
import type { Sql } from "./sql.js";

/** What binding needs from either store: reads, and one write transaction. */
export interface DeploymentStore {
  readonly sql: Sql;
  write(fn: (w: Sql) => Promise<void>): Promise<void>;
}

export const PUBLIC_URL_KEY = "public_url";

export interface BindPublicUrlOptions {
  readonly configured: string;
  readonly from: "SIDIAN_PUBLIC_URL" | "SIDIAN_HOST/SIDIAN_PORT" | "default";
  /** Take the recorded URL when the environment names none (CLI commands). */
  readonly adopt: boolean;
  readonly now: Date;
  readonly dbLabel: string;
}

/** The URL this process must use; records it when the database has none yet. */
export async function bindPublicUrl(db: DeploymentStore, o: BindPublicUrlOptions): Promise<string> {
  const read = async () => db.sql.value<string>("SELECT value FROM deployment WHERE key = ?", [PUBLIC_URL_KEY]);
  let recorded = await read();
  if (recorded === undefined) {
    await db.write(async (w) => {
      await w.run("INSERT INTO deployment (key, value, set_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING", [PUBLIC_URL_KEY, o.configured, o.now.getTime()]);
    });
    recorded = (await read())!;
  }
  if (recorded === o.configured) return recorded;
  if (o.adopt && o.from === "default") return recorded;
  const how = o.from === "default" ? "the default" : `from ${o.from}`;
  throw new AppError(
    "CONFIG_INVALID",
    `The database ${o.dbLabel} belongs to the deployment at ${recorded} (what it signed names that URL), but this process is configured with ${o.configured} (${how}): ` +
      `set SIDIAN_PUBLIC_URL=${recorded} (the port it listens on may differ: SIDIAN_PORT), or use another database (SIDIAN_DB).`,
  );
}
