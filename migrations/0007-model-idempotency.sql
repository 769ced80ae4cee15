-- A retried share (POST /api/v1/models with the same Idempotency-Key from the same person) finds the
-- model its first attempt made, as a retried write-out finds its packet. created_by stays when the
-- model changes owner; idempotency_key is the client's token, not a secret.
ALTER TABLE models ADD COLUMN created_by TEXT;
ALTER TABLE models ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX models_by_idempotency_key ON models (created_by, idempotency_key) WHERE idempotency_key IS NOT NULL;
