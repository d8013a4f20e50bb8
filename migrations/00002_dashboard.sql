-- The dashboard of `smsblast serve` (issue 15) reads two things by time
-- within one campaign: its most recent failures, and its delivered and
-- undelivered verdicts per minute over the last hour. Without an index both
-- read every row of the campaign (1.5 s for 10M recipients).
--
-- The index holds only rows with a verdict: delivered, undelivered, failed.
-- A partial index receives an entry only when the new row version matches
-- its predicate, so the send path, which writes pending, sending and
-- accepted rows, never inserts into it except for the few recipients Twilio
-- refuses (failed); the cost falls on status callbacks that end a message,
-- one more btree insert each. updated_at is when smsblast recorded the
-- verdict; a recipient in one of these states is not updated again unless
-- `retry` requeues it, which takes it out of the index.

-- +goose Up
CREATE INDEX recipients_verdict_idx ON recipients (campaign_id, updated_at)
    WHERE status IN ('delivered', 'undelivered', 'failed');

-- +goose Down
DROP INDEX recipients_verdict_idx;
