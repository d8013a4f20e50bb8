-- Senders: Twilio meters throughput per sender (a number or a Messaging
-- Service), not per campaign. A registered sender's MPS is shared by every
-- campaign and every process that sends from it; a daily cap limits the
-- segments it sends per day in its reset zone. Campaigns may send from a pool
-- of numbers, each recipient always from the same one.

-- +goose Up
CREATE TABLE senders (
    sender          text PRIMARY KEY
                    CHECK (sender ~ '^\+[1-9][0-9]{1,14}$' OR sender ~ '^MG[0-9a-f]{32}$'),
    kind            text NOT NULL
                    CHECK (kind IN ('long-code', 'toll-free', 'short-code', 'messaging-service')),
    -- Declared throughput in segments per second, for every campaign together.
    mps             double precision NOT NULL CHECK (mps > 0),
    -- Segments per day at most; NULL for none. The day runs midnight to
    -- midnight in cap_reset_tz (T-Mobile resets at midnight Pacific).
    daily_cap       bigint CHECK (daily_cap > 0),
    cap_reset_tz    text NOT NULL DEFAULT 'America/Los_Angeles',
    -- When Twilio holds this sender's messages longer than this before
    -- sending them, the declared MPS is too high and smsblast slows down.
    max_queue_delay interval NOT NULL DEFAULT '60 seconds' CHECK (max_queue_delay > interval '0'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Segments sent (or reserved by a claim, until sent or given back) per sender
-- and day of its reset zone. Not a foreign key: usage outlives a sender's
-- removal from the registry.
CREATE TABLE sender_usage (
    sender   text NOT NULL,
    day      date NOT NULL,
    segments bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (sender, day)
);

-- What Twilio's status callbacks show of each sender's queue: how long
-- accepted messages wait before Twilio sends them (`smsblast serve` measures
-- it), and the factor smsblast applies to the declared MPS while that wait
-- exceeds max_queue_delay (1: none).
CREATE TABLE sender_queue (
    sender      text PRIMARY KEY,
    delay       interval NOT NULL,
    samples     integer NOT NULL,
    factor      double precision NOT NULL DEFAULT 1 CHECK (factor > 0 AND factor <= 1),
    observed_at timestamptz NOT NULL DEFAULT now(),
    -- The factor moves at most once per 30 seconds: the queue needs that
    -- long to show what the last change did.
    factor_changed_at timestamptz NOT NULL DEFAULT now()
);

-- Each live send process's use of each sender: its campaign, whether it has
-- work for that sender now, the most it would use (its campaign's own rate
-- share; Infinity for none) and the rate it currently allows itself. Every
-- process splits each sender's MPS from these rows.
CREATE TABLE sender_shares (
    worker_id   text NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
    sender      text NOT NULL,
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    active      boolean NOT NULL,
    demand      double precision NOT NULL,
    rate        double precision NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (worker_id, sender)
);
CREATE INDEX sender_shares_sender_idx ON sender_shares (sender);

-- The number each phone was last texted from, whatever the campaign: a
-- recipient keeps one number of a pool, so replies and STOPs stay in one
-- conversation.
CREATE TABLE sticky_senders (
    phone      text PRIMARY KEY,
    sender     text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A pool: every number the campaign sends from, from_number being the first.
-- NULL for a campaign with one sender.
ALTER TABLE campaigns ADD COLUMN sender_pool text[]
    CHECK (sender_pool IS NULL OR (cardinality(sender_pool) > 1 AND sender_pool[1] = from_number)),
    -- Prefer the pool number with the recipient's area code.
    ADD COLUMN geomatch boolean NOT NULL DEFAULT false;
-- NULL rate: no cap of the campaign's own; its senders' MPS governs (an
-- unregistered sender sends at 10 segments/s).
ALTER TABLE campaigns ALTER COLUMN rate DROP NOT NULL, ALTER COLUMN rate DROP DEFAULT;

-- The number a recipient is sent from (NULL until first claimed), the day of
-- that sender's daily cap its segments were reserved against, and why a
-- pending recipient waits past its due time (next_attempt_at is then when it
-- may go): its sender's daily cap, so that raising the cap releases it.
ALTER TABLE recipients ADD COLUMN sender text, ADD COLUMN reserved_day date,
    ADD COLUMN hold text CHECK (hold IN ('daily_cap'));

-- +goose Down
ALTER TABLE recipients DROP COLUMN hold, DROP COLUMN reserved_day, DROP COLUMN sender;
UPDATE campaigns SET rate = 10 WHERE rate IS NULL;
ALTER TABLE campaigns ALTER COLUMN rate SET DEFAULT 10, ALTER COLUMN rate SET NOT NULL;
ALTER TABLE campaigns DROP COLUMN geomatch, DROP COLUMN sender_pool;
DROP TABLE sticky_senders;
DROP TABLE sender_shares;
DROP TABLE sender_queue;
DROP TABLE sender_usage;
DROP TABLE senders;
