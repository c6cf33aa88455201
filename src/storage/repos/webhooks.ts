/** The webhook ports (src/modules/webhooks/ports.ts) over the portable Sql (SQLite and PostgreSQL). */
import type { Sql } from "../sql.js";
import { tableOf } from "../table.js";
import { webhookDeliveries, webhookEndpoints } from "../schema/webhooks.js";
import type { WebhookDelivery, WebhookEndpoint, WebhookRepos } from "../../modules/webhooks/ports.js";

const E = tableOf<WebhookEndpoint>(webhookEndpoints);
const D = tableOf<WebhookDelivery>(webhookDeliveries);

export function createWebhookRepos(sql: Sql): WebhookRepos {
  const epGet = `SELECT ${E.cols} FROM webhook_endpoints WHERE client_id = ?`;
  const epPut = `${E.insert} ON CONFLICT (client_id) DO UPDATE SET url = excluded.url, secret_enc = excluded.secret_enc, updated_at = excluded.updated_at`;
  const epDel = "DELETE FROM webhook_endpoints WHERE client_id = ?";
  const due = `SELECT ${D.cols} FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`;
  const forClient = `SELECT ${D.cols} FROM webhook_deliveries WHERE client_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`;
  return {
    webhookEndpoints: {
      async get(clientId) {
        return E.maybe(await sql.get(epGet, [clientId]));
      },
      async put(e) {
        await sql.run(epPut, E.args(e));
      },
      async delete(clientId) {
        await sql.run(epDel, [clientId]);
      },
    },
    webhookDeliveries: {
      async insert(d) {
        await sql.run(D.insert, D.args(d));
      },
      async due(at, limit) {
        return (await sql.all(due, [at.getTime(), limit])).map((r) => D.from(r));
      },
      async update(id, patch) {
        const s = D.set(patch);
        if (!s.args.length) return;
        await sql.run(`UPDATE webhook_deliveries ${s.text} WHERE id = ?`, [...s.args, id]);
      },
      async forClient(clientId, limit) {
        return (await sql.all(forClient, [clientId, limit])).map((r) => D.from(r));
      },
    },
  };
}
