-- Leases: one replica at a time does a scheduled job (signing key rotation). A row is
-- held by holder until expires_at; the primary key makes two takers conflict.
CREATE TABLE mcpguard_leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL
);
