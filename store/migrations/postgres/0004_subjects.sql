-- Subject revocations: every token of a subject issued at or before revoked_at is
-- revoked; the row is kept until expires_at (the longest access token life after it).
CREATE TABLE mcpguard_subject_revocations (
    subject    text PRIMARY KEY,
    revoked_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX mcpguard_subject_revocations_expires_at ON mcpguard_subject_revocations (expires_at);
