-- Know before you send: smart encoding and a segment limit per body
-- (campaign settings), and the test messages of `smsblast send --test`.

-- +goose Up
ALTER TABLE campaigns
    -- Replace typographic characters with GSM-7 look-alikes before counting
    -- and sending: the body Twilio gets is the one counted.
    ADD COLUMN smart_encode boolean NOT NULL DEFAULT false,
    -- The most segments one rendered body may take; an import rejects rows
    -- over it. A body of 1,600 characters takes at most 24 segments.
    ADD COLUMN max_segments integer NOT NULL DEFAULT 10 CHECK (max_segments BETWEEN 1 AND 24);

-- One row per test message: the rendered body of one recipient sent to a
-- number of the user's. No recipient changes; these count in no budget,
-- cap or frequency cap.
CREATE TABLE test_sends (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id   bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    -- The recipient whose body was sent, by its line in the CSV.
    source_line   integer,
    to_number     text NOT NULL CHECK (to_number ~ '^\+[1-9][0-9]{1,14}$'),
    from_number   text,
    -- Twilio's answer: the message sid and status, or the error.
    message_sid   text,
    status        text NOT NULL,
    error_code    integer,
    error_message text,
    segments      integer,
    sent_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX test_sends_campaign_idx ON test_sends (campaign_id, sent_at);

-- +goose Down
DROP TABLE test_sends;
ALTER TABLE campaigns DROP COLUMN max_segments, DROP COLUMN smart_encode;
