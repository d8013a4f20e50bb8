-- New states in the contract, added in one place so that every later change
-- can rely on them:
--   recipients 'expired'  — still unsent when the campaign's stop-at passed;
--   recipients 'review'   — in doubt, and Twilio's list shows a message that
--                           may be it but cannot be compared (redacted body or
--                           number): a person decides (smsblast resolve);
--   campaigns 'scheduled' — launched, waiting for its start-at;
--   send_attempts 'review' and 'expired' — the verdicts that lead there.
-- And each recipient's time zones, from the number (libphonenumber), so that
-- send windows are judged in the recipient's local time.

-- +goose Up
ALTER TABLE recipients DROP CONSTRAINT recipients_status_check,
    ADD CONSTRAINT recipients_status_check
    CHECK (status IN ('pending', 'sending', 'accepted', 'sent', 'delivered',
                      'undelivered', 'failed', 'skipped', 'expired', 'review'));
ALTER TABLE campaigns DROP CONSTRAINT campaigns_status_check,
    ADD CONSTRAINT campaigns_status_check
    CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'completed', 'canceled'));
ALTER TABLE send_attempts DROP CONSTRAINT send_attempts_outcome_check,
    ADD CONSTRAINT send_attempts_outcome_check
    CHECK (outcome IN ('accepted', 'retry', 'in_doubt', 'failed', 'skipped',
                       'campaign_error', 'found', 'not_found', 'review', 'expired'));
-- The IANA zones libphonenumber gives for the number, comma-separated and
-- sorted ('America/New_York'; 'America/Chicago,America/New_York' for a number
-- that spans zones); NULL when it knows none.
ALTER TABLE recipients ADD COLUMN time_zones text;

-- +goose Down
ALTER TABLE recipients DROP COLUMN time_zones;
UPDATE recipients SET status = 'pending' WHERE status IN ('expired', 'review');
UPDATE campaigns SET status = 'draft' WHERE status = 'scheduled';
DELETE FROM send_attempts WHERE outcome IN ('review', 'expired');
ALTER TABLE send_attempts DROP CONSTRAINT send_attempts_outcome_check,
    ADD CONSTRAINT send_attempts_outcome_check
    CHECK (outcome IN ('accepted', 'retry', 'in_doubt', 'failed', 'skipped',
                       'campaign_error', 'found', 'not_found'));
ALTER TABLE campaigns DROP CONSTRAINT campaigns_status_check,
    ADD CONSTRAINT campaigns_status_check
    CHECK (status IN ('draft', 'running', 'paused', 'completed', 'canceled'));
ALTER TABLE recipients DROP CONSTRAINT recipients_status_check,
    ADD CONSTRAINT recipients_status_check
    CHECK (status IN ('pending', 'sending', 'accepted', 'sent', 'delivered',
                      'undelivered', 'failed', 'skipped'));
