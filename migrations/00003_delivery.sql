-- Delivery results: what status callbacks need beyond the first schema.
--
-- message_events keeps each callback as parsed, so that the sender can apply
-- one that arrived before it wrote the message's sid (the race between
-- `send` and `serve`) without parsing the payload again in SQL.

-- +goose Up

ALTER TABLE message_events
    -- The recipient state the callback means (Twilio's status mapped: see
    -- campaign.FromTwilioStatus); status keeps Twilio's own word.
    ADD COLUMN recipient_status text
        CHECK (recipient_status IN ('accepted', 'sent', 'delivered', 'undelivered', 'failed')),
    -- ErrorMessage when Twilio sent one, else the code's description.
    ADD COLUMN error_message text,
    -- The carrier's delivery receipt time (RawDlrDoneDate), when present.
    ADD COLUMN done_at timestamptz;

-- A callback that finds no recipient for its sid first waits for a sender
-- writing one: it locks the recipient's rows still in 'sending' by phone.
-- Only the few rows in flight are in this index.
CREATE INDEX recipients_sending_phone_idx ON recipients (phone) WHERE status = 'sending';

-- recipient_results gains opted_out_at: when the phone joined opt_outs
-- (NULL if it has not). Columns are only appended, so CREATE OR REPLACE keeps
-- every query written against the first version working.
CREATE OR REPLACE VIEW recipient_results AS
SELECT r.id            AS recipient_id,
       r.campaign_id,
       c.name          AS campaign,
       r.phone,
       r.attrs,
       r.source_line,
       r.status,
       r.twilio_status,
       r.error_code,
       coalesce(e.description, r.error_message) AS error_description,
       r.error_message,
       r.message_sid,
       r.attempts,
       r.segments,
       r.sent_at,
       r.delivered_at,
       r.updated_at,
       o.created_at    AS opted_out_at
FROM recipients r
JOIN campaigns c ON c.id = r.campaign_id
LEFT JOIN twilio_errors e ON e.code = r.error_code
LEFT JOIN opt_outs o ON o.phone = r.phone;

-- +goose Down
DROP VIEW recipient_results;
CREATE VIEW recipient_results AS
SELECT r.id            AS recipient_id,
       r.campaign_id,
       c.name          AS campaign,
       r.phone,
       r.attrs,
       r.source_line,
       r.status,
       r.twilio_status,
       r.error_code,
       coalesce(e.description, r.error_message) AS error_description,
       r.error_message,
       r.message_sid,
       r.attempts,
       r.segments,
       r.sent_at,
       r.delivered_at,
       r.updated_at
FROM recipients r
JOIN campaigns c ON c.id = r.campaign_id
LEFT JOIN twilio_errors e ON e.code = r.error_code;
DROP INDEX recipients_sending_phone_idx;
ALTER TABLE message_events
    DROP COLUMN done_at,
    DROP COLUMN error_message,
    DROP COLUMN recipient_status;
