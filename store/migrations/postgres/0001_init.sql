-- The authorization server's state. Records are the JSON the other backends store; the
-- columns beside them are what queries filter and lock on.
CREATE TABLE mcpguard_clients (
    id         text PRIMARY KEY,
    data       jsonb NOT NULL,
    expires_at timestamptz          -- NULL: never
);
CREATE INDEX mcpguard_clients_expires_at ON mcpguard_clients (expires_at);

CREATE TABLE mcpguard_auth_codes (
    code_hash  text PRIMARY KEY,
    data       jsonb NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX mcpguard_auth_codes_expires_at ON mcpguard_auth_codes (expires_at);

-- One row per token family: the row every rotation, creation and revocation of the
-- family locks first, so they run one after another.
CREATE TABLE mcpguard_families (
    family_id  text PRIMARY KEY,
    revoked_at timestamptz          -- NULL: not revoked
);

CREATE TABLE mcpguard_refresh_tokens (
    token_hash text PRIMARY KEY,
    family_id  text NOT NULL,          -- mcpguard_families, without a foreign key: GC drops unrevoked family rows freely
    data       jsonb NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX mcpguard_refresh_tokens_family_id ON mcpguard_refresh_tokens (family_id);
CREATE INDEX mcpguard_refresh_tokens_expires_at ON mcpguard_refresh_tokens (expires_at);

CREATE TABLE mcpguard_access_denylist (
    jti        text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

CREATE TABLE mcpguard_consents (
    subject    text NOT NULL,
    client_id  text NOT NULL,
    data       jsonb NOT NULL,
    PRIMARY KEY (subject, client_id)
);

CREATE TABLE mcpguard_signing_keys (
    id         text PRIMARY KEY,
    data       jsonb NOT NULL
);
