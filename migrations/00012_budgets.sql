-- Know before you send, engine side: budgets (the most segments, or money,
-- a campaign may spend) and frequency caps across campaigns (how often any
-- campaign may text one person).

-- +goose Up
ALTER TABLE campaigns
    ADD COLUMN budget_segments bigint CHECK (budget_segments > 0),
    -- A budget in money needs a price for every destination country
    -- (campaign_prices); budget_currency is theirs.
    ADD COLUMN budget_amount numeric CHECK (budget_amount > 0),
    -- At most frequency_count messages to one person, from any campaign,
    -- within frequency_window; NULL for no cap.
    ADD COLUMN frequency_count integer CHECK (frequency_count > 0),
    ADD COLUMN frequency_window interval CHECK (frequency_window > interval '0'),
    ADD CONSTRAINT campaigns_frequency_check CHECK ((frequency_count IS NULL) = (frequency_window IS NULL));

-- Price per segment by destination country (ISO 3166 alpha-2), for a budget
-- in money.
CREATE TABLE campaign_prices (
    campaign_id       bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    -- '*' prices every country without a row of its own.
    country           text NOT NULL CHECK (country ~ '^([A-Z]{2}|\*)$'),
    price_per_segment numeric NOT NULL CHECK (price_per_segment >= 0),
    currency          text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    PRIMARY KEY (campaign_id, country)
);

-- What a campaign has spent of its budget: the segments (and money) of
-- every message Twilio took, and of every recipient claimed and not yet
-- answered (reserved at claim, given back when not sent). Claims lock this
-- row, so processes never spend past the budget together.
CREATE TABLE campaign_budget (
    campaign_id bigint PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    segments    bigint NOT NULL DEFAULT 0,
    amount      numeric NOT NULL DEFAULT 0
);

-- The money reserved for a recipient's current attempt (NULL: no budget
-- counts it), given back with its segments when it is not sent.
ALTER TABLE recipients ADD COLUMN budget_cost numeric;

-- Every message claimed for a phone, by any campaign: what frequency caps
-- count. A claim records its recipients here and a recipient given back
-- unsent removes its row; rows older than any cap's window are pruned.
CREATE TABLE contacts (
    phone        text NOT NULL,
    at           timestamptz NOT NULL,
    campaign_id  bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    recipient_id bigint NOT NULL
);
-- A capped claim reads one phone's recent contacts.
CREATE INDEX contacts_phone_idx ON contacts (phone, at);
-- A recipient given back unsent removes its own contact.
CREATE INDEX contacts_recipient_idx ON contacts (recipient_id);

-- +goose Down
DROP TABLE contacts;
ALTER TABLE recipients DROP COLUMN budget_cost;
DROP TABLE campaign_budget;
DROP TABLE campaign_prices;
ALTER TABLE campaigns DROP CONSTRAINT campaigns_frequency_check,
    DROP COLUMN frequency_window, DROP COLUMN frequency_count,
    DROP COLUMN budget_amount, DROP COLUMN budget_segments;
