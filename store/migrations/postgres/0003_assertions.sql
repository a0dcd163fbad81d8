-- The IDs of accepted signed assertions (private_key_jwt client assertions), each
-- accepted once: the primary key is what makes a second use conflict.
CREATE TABLE mcpguard_assertions (
    issuer     text NOT NULL,
    jti        text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX mcpguard_assertions_expires_at ON mcpguard_assertions (expires_at);
