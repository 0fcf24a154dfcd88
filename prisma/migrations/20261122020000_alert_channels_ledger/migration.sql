-- CreateTable
CREATE TABLE "alert_channels" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "type" VARCHAR(16) NOT NULL,
    "target" VARCHAR(2048) NOT NULL,
    "secret_ref" VARCHAR(300) NOT NULL,
    "severities" TEXT[],
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "alert_channels_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "alert_ledger" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "type" VARCHAR(100) NOT NULL,
    "severity" VARCHAR(16) NOT NULL,
    "title" VARCHAR(200) NOT NULL,
    "body" TEXT,
    "labels" JSONB,
    "runbook_url" VARCHAR(2048),
    "group_key" VARCHAR(200) NOT NULL,
    "user_id" VARCHAR(255),
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL,
    "outcome" VARCHAR(16) NOT NULL,
    "reason" VARCHAR(32),
    "group_id" UUID,
    "defer_until" TIMESTAMPTZ(3),
    "channel" VARCHAR(100),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "delivered_at" TIMESTAMPTZ(3),
    "delivery_ms" INTEGER,
    "last_status" INTEGER,
    "last_error" VARCHAR(500),

    CONSTRAINT "alert_ledger_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "alert_channels_tenant_id_name_key" ON "alert_channels"("tenant_id", "name");

-- CreateIndex
CREATE INDEX "alert_ledger_tenant_id_received_at_idx" ON "alert_ledger"("tenant_id", "received_at");

-- CreateIndex
CREATE INDEX "alert_ledger_group_id_idx" ON "alert_ledger"("group_id");

-- AddForeignKey
ALTER TABLE "alert_channels" ADD CONSTRAINT "alert_channels_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "alert_ledger" ADD CONSTRAINT "alert_ledger_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
