/** What the webhook module needs from storage (src/storage/repos/webhooks.ts). */
export interface WebhookEndpoint {
  readonly clientId: string;
  readonly url: string;
  readonly secretEnc: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export type DeliveryStatus = "pending" | "delivered" | "failed";

export interface WebhookDelivery {
  readonly id: string;
  readonly clientId: string;
  readonly type: string;
  readonly payload: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly nextAttemptAt: Date;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly createdAt: Date;
  readonly deliveredAt: Date | null;
}

export interface WebhookRepos {
  webhookEndpoints: {
    get(clientId: string): Promise<WebhookEndpoint | undefined>;
    /** Inserts or replaces the client's endpoint. */
    put(e: WebhookEndpoint): Promise<void>;
    delete(clientId: string): Promise<void>;
  };
  webhookDeliveries: {
    insert(d: WebhookDelivery): Promise<void>;
    /** Pending deliveries due at `at`, oldest first. */
    due(at: Date, limit: number): Promise<WebhookDelivery[]>;
    update(id: string, patch: Partial<Pick<WebhookDelivery, "status" | "attempts" | "nextAttemptAt" | "lastStatus" | "lastError" | "deliveredAt">>): Promise<void>;
    /** A client's deliveries, newest first. */
    forClient(clientId: string, limit: number): Promise<WebhookDelivery[]>;
  };
}
