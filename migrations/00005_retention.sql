-- Retention (issue 14): the two audit trails, send_attempts (one row per
-- request to Twilio) and message_events (one row per status callback), grow
-- with every message sent. They become tables partitioned by week on their
-- time column, so that `smsblast prune --older-than 90d` drops whole weeks:
-- a DROP TABLE of a partition, which frees its space at once, takes its
-- locks for milliseconds and leaves nothing for VACUUM, where a DELETE of
-- millions of rows would hold row locks for minutes and leave the table
-- bloated.
--
-- The existing table becomes the first partition (everything up to the
-- start of next week, data and indexes kept, no copy), so the migration
-- costs one scan of each table to check the bound and one index build for
-- the new primary key, which must include the partition key. smsblast
-- creates the following weeks ahead of time (store.EnsurePartitions, run by
-- send and serve at start and hourly); a default partition catches a row
-- with a time no week covers (a clock far off, a sender running past the
-- weeks created), so an insert never fails for want of a partition.
--
-- Partitioned tables cannot have identity columns before PostgreSQL 17:
-- ids come from a sequence instead, continuing from the table's highest.
-- Foreign keys to recipients and campaigns stay (with ON DELETE CASCADE);
-- nothing references these tables.

-- +goose Up
LOCK TABLE send_attempts, message_events IN ACCESS EXCLUSIVE MODE;

ALTER TABLE send_attempts ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE send_attempts_id_seq AS bigint;
SELECT setval('send_attempts_id_seq', coalesce((SELECT max(id) FROM send_attempts), 0) + 1, false);
ALTER TABLE send_attempts DROP CONSTRAINT send_attempts_pkey;
ALTER TABLE send_attempts RENAME TO send_attempts_legacy;
ALTER INDEX send_attempts_recipient_idx RENAME TO send_attempts_legacy_recipient_idx;
ALTER INDEX send_attempts_started_idx RENAME TO send_attempts_legacy_started_idx;

CREATE TABLE send_attempts (
    id            bigint NOT NULL DEFAULT nextval('send_attempts_id_seq'),
    recipient_id  bigint NOT NULL
                  CONSTRAINT send_attempts_recipient_id_fkey REFERENCES recipients (id) ON DELETE CASCADE,
    campaign_id   bigint NOT NULL
                  CONSTRAINT send_attempts_campaign_id_fkey REFERENCES campaigns (id) ON DELETE CASCADE,
    attempt       integer NOT NULL,
    worker        text NOT NULL,
    started_at    timestamptz NOT NULL,
    latency_ms    double precision,
    http_status   integer,
    error_code    integer,
    error_message text,
    message_sid   text,
    -- The constraint keeps its name: attaching the old table matches it by name.
    outcome       text NOT NULL CONSTRAINT send_attempts_outcome_check
                  CHECK (outcome IN ('accepted', 'retry', 'in_doubt', 'failed', 'skipped',
                                     'campaign_error', 'found', 'not_found', 'review', 'expired')),
    PRIMARY KEY (id, started_at)
) PARTITION BY RANGE (started_at);
ALTER SEQUENCE send_attempts_id_seq OWNED BY send_attempts.id;
CREATE INDEX send_attempts_recipient_idx ON send_attempts (recipient_id);
-- Rows arrive in time order, so a BRIN index finds "the last ten seconds"
-- (status's current rate) within the week's partition for a fraction of a
-- btree's cost on every insert.
CREATE INDEX send_attempts_started_idx ON send_attempts USING brin (started_at);

ALTER TABLE message_events ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE message_events_id_seq AS bigint;
SELECT setval('message_events_id_seq', coalesce((SELECT max(id) FROM message_events), 0) + 1, false);
ALTER TABLE message_events DROP CONSTRAINT message_events_pkey;
ALTER TABLE message_events RENAME TO message_events_legacy;
ALTER INDEX message_events_sid_idx RENAME TO message_events_legacy_sid_idx;
ALTER INDEX message_events_unapplied_idx RENAME TO message_events_legacy_unapplied_idx;

CREATE TABLE message_events (
    id               bigint NOT NULL DEFAULT nextval('message_events_id_seq'),
    message_sid      text NOT NULL,
    status           text NOT NULL,
    recipient_status text CONSTRAINT message_events_recipient_status_check
                     CHECK (recipient_status IN ('accepted', 'sent', 'delivered', 'undelivered', 'failed')),
    error_code       integer,
    error_message    text,
    done_at          timestamptz,
    payload          jsonb NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    applied_at       timestamptz,
    PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);
ALTER SEQUENCE message_events_id_seq OWNED BY message_events.id;
CREATE INDEX message_events_sid_idx ON message_events (message_sid);
CREATE INDEX message_events_unapplied_idx ON message_events (message_sid) WHERE applied_at IS NULL;

-- The old tables become the partitions up to the start of next week (UTC,
-- weeks start on Monday), or of the week after their latest row.
-- +goose StatementBegin
DO $$
DECLARE
    bound timestamptz;
BEGIN
    SELECT date_trunc('week', greatest(now(), max(started_at)) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '1 week'
    INTO bound FROM send_attempts_legacy;
    EXECUTE format('ALTER TABLE send_attempts ATTACH PARTITION send_attempts_legacy FOR VALUES FROM (MINVALUE) TO (%L)', bound);
    SELECT date_trunc('week', greatest(now(), max(received_at)) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '1 week'
    INTO bound FROM message_events_legacy;
    EXECUTE format('ALTER TABLE message_events ATTACH PARTITION message_events_legacy FOR VALUES FROM (MINVALUE) TO (%L)', bound);
END $$;
-- +goose StatementEnd
CREATE TABLE send_attempts_default PARTITION OF send_attempts DEFAULT;
CREATE TABLE message_events_default PARTITION OF message_events DEFAULT;

-- +goose Down
-- Back to plain tables, copying the rows: the partitioned tables and their
-- indexes step aside first, so that the plain ones get the original names.
LOCK TABLE send_attempts, message_events IN ACCESS EXCLUSIVE MODE;
ALTER TABLE send_attempts RENAME TO send_attempts_partitioned;
ALTER INDEX send_attempts_pkey RENAME TO send_attempts_partitioned_pkey;
ALTER INDEX send_attempts_recipient_idx RENAME TO send_attempts_partitioned_recipient_idx;
ALTER INDEX send_attempts_started_idx RENAME TO send_attempts_partitioned_started_idx;
CREATE TABLE send_attempts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient_id  bigint NOT NULL REFERENCES recipients (id) ON DELETE CASCADE,
    campaign_id   bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    attempt       integer NOT NULL,
    worker        text NOT NULL,
    started_at    timestamptz NOT NULL,
    latency_ms    double precision,
    http_status   integer,
    error_code    integer,
    error_message text,
    message_sid   text,
    outcome       text NOT NULL CONSTRAINT send_attempts_outcome_check
                  CHECK (outcome IN ('accepted', 'retry', 'in_doubt', 'failed', 'skipped',
                                     'campaign_error', 'found', 'not_found', 'review', 'expired'))
);
INSERT INTO send_attempts OVERRIDING SYSTEM VALUE
SELECT id, recipient_id, campaign_id, attempt, worker, started_at, latency_ms, http_status,
       error_code, error_message, message_sid, outcome
FROM send_attempts_partitioned ORDER BY id;
DROP TABLE send_attempts_partitioned;
SELECT setval(pg_get_serial_sequence('send_attempts', 'id'), coalesce((SELECT max(id) FROM send_attempts), 0) + 1, false);
CREATE INDEX send_attempts_recipient_idx ON send_attempts (recipient_id);
CREATE INDEX send_attempts_started_idx ON send_attempts USING brin (started_at);

ALTER TABLE message_events RENAME TO message_events_partitioned;
ALTER INDEX message_events_pkey RENAME TO message_events_partitioned_pkey;
ALTER INDEX message_events_sid_idx RENAME TO message_events_partitioned_sid_idx;
ALTER INDEX message_events_unapplied_idx RENAME TO message_events_partitioned_unapplied_idx;
CREATE TABLE message_events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_sid      text NOT NULL,
    status           text NOT NULL,
    recipient_status text CONSTRAINT message_events_recipient_status_check
                     CHECK (recipient_status IN ('accepted', 'sent', 'delivered', 'undelivered', 'failed')),
    error_code       integer,
    error_message    text,
    done_at          timestamptz,
    payload          jsonb NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    applied_at       timestamptz
);
INSERT INTO message_events OVERRIDING SYSTEM VALUE
SELECT id, message_sid, status, recipient_status, error_code, error_message, done_at, payload,
       received_at, applied_at
FROM message_events_partitioned ORDER BY id;
DROP TABLE message_events_partitioned;
SELECT setval(pg_get_serial_sequence('message_events', 'id'), coalesce((SELECT max(id) FROM message_events), 0) + 1, false);
CREATE INDEX message_events_sid_idx ON message_events (message_sid);
CREATE INDEX message_events_unapplied_idx ON message_events (message_sid) WHERE applied_at IS NULL;
