-- Browser sessions. ends_at is the earlier of the absolute and the idle expiry: the one
-- column lookups, touches and GC compare against.
CREATE TABLE mcpguard_sessions (
    id         text PRIMARY KEY,          -- hex SHA-256 of the cookie's secret
    subject    text NOT NULL,
    data       jsonb NOT NULL,
    ends_at    timestamptz NOT NULL
);
CREATE INDEX mcpguard_sessions_subject ON mcpguard_sessions (subject);
CREATE INDEX mcpguard_sessions_ends_at ON mcpguard_sessions (ends_at);
