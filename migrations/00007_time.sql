-- Time: when a campaign may start and must stop, and the hours of the day it
-- may text each recipient in the recipient's own time zone.

-- +goose Up
ALTER TABLE campaigns
    -- Nothing is sent before start_at; from stop_at on nothing is sent and
    -- recipients still unsent end 'expired'.
    ADD COLUMN start_at timestamptz,
    ADD COLUMN stop_at timestamptz CHECK (stop_at IS NULL OR start_at IS NULL OR stop_at > start_at),
    -- The zone the user wrote start and stop times in, and the default
    -- zone of the send window for numbers without a usable zone of their own.
    ADD COLUMN tz text,
    -- When messages may go, in each recipient's local time: 'HH:MM-HH:MM'
    -- (may wrap midnight); NULL for any time.
    ADD COLUMN send_window text CHECK (send_window ~ '^[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]$'),
    -- The zone the window is read in for a number with no zone, or whose
    -- zones' windows never overlap; NULL: tz.
    ADD COLUMN window_tz text;

-- Stricter local rules, added by users: a number starting with prefix ('+1'
-- for a country, '+1212' for an area code) may only be texted inside
-- send_window, in its own local time, as well as inside its campaign's.
-- Example: INSERT INTO send_window_rules (prefix, send_window, note)
--          VALUES ('+1850', '08:00-20:00', 'Florida: 8 am to 8 pm');
CREATE TABLE send_window_rules (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prefix      text NOT NULL CHECK (prefix ~ '^\+[1-9][0-9]{0,14}$'),
    send_window text NOT NULL CHECK (send_window ~ '^[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]$'),
    note        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A pending recipient may now also wait for its window to open.
ALTER TABLE recipients DROP CONSTRAINT recipients_hold_check,
    ADD CONSTRAINT recipients_hold_check CHECK (hold IN ('daily_cap', 'window'));

-- +goose Down
UPDATE recipients SET hold = NULL WHERE hold = 'window';
ALTER TABLE recipients DROP CONSTRAINT recipients_hold_check,
    ADD CONSTRAINT recipients_hold_check CHECK (hold IN ('daily_cap'));
DROP TABLE send_window_rules;
ALTER TABLE campaigns DROP COLUMN window_tz, DROP COLUMN send_window, DROP COLUMN tz,
    DROP COLUMN stop_at, DROP COLUMN start_at;
