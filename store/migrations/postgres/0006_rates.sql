-- Token buckets every replica shares (the DCR rate limits): one row per key holding
-- the bucket's theoretical arrival time in Unix microseconds (store/rates.go).
CREATE TABLE mcpguard_rates (
    key text PRIMARY KEY,
    tat bigint NOT NULL
);
CREATE INDEX mcpguard_rates_tat ON mcpguard_rates (tat);
