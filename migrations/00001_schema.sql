-- The whole data model. Users query these tables and views
-- directly, so names and meanings are a contract. Enumerations are text with a
-- CHECK rather than Postgres enums: adding a value later is one ALTER, and
-- psql shows plain words.

-- +goose Up

CREATE TABLE campaigns (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                  text NOT NULL UNIQUE CHECK (name <> ''),
    -- Exactly one sender: a phone number in E.164 or a Messaging Service.
    from_number           text CHECK (from_number ~ '^\+[1-9][0-9]{1,14}$'),
    messaging_service_sid text CHECK (messaging_service_sid ~ '^MG[0-9a-f]{32}$'),
    body_template         text NOT NULL CHECK (body_template <> ''),
    status_callback       text,
    status                text NOT NULL DEFAULT 'draft'
                          CHECK (status IN ('draft', 'running', 'paused', 'completed', 'canceled')),
    -- Why the campaign is paused or canceled, in words (a Twilio error, a user's command).
    status_reason         text,
    -- Throughput in segments per second (a one-segment message is one), shared by all senders.
    rate                  double precision NOT NULL DEFAULT 10 CHECK (rate > 0),
    concurrency           integer NOT NULL DEFAULT 10 CHECK (concurrency > 0),
    max_attempts          integer NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
    validity_period       integer CHECK (validity_period BETWEEN 1 AND 36000),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    started_at            timestamptz,
    completed_at          timestamptz,
    CHECK ((from_number IS NULL) <> (messaging_service_sid IS NULL))
);

CREATE TABLE recipients (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id      bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    phone            text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    -- The CSV row, keyed by lower_snake_case header: what the body template reads.
    attrs            jsonb NOT NULL DEFAULT '{}',
    source_line      integer,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sending', 'accepted', 'sent', 'delivered',
                                       'undelivered', 'failed', 'skipped')),
    -- Number of claims so far; the current attempt's number while sending. Fences writes.
    attempts         integer NOT NULL DEFAULT 0,
    message_sid      text,
    twilio_status    text,
    error_code       integer,
    error_message    text,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    -- Lease: which worker holds the row while it is 'sending', and until when.
    lease_owner      text,
    lease_expires_at timestamptz,
    -- When the current attempt was claimed: the earliest a message it sent can be dated.
    claimed_at       timestamptz,
    -- Set when the outcome of an attempt became unknown (lost response, dead worker):
    -- the row is reconciled against Twilio before it may be sent again.
    in_doubt_since   timestamptz,
    segments         integer,
    sent_at          timestamptz,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, phone)
);

-- Claiming: the next due pending rows of one campaign in order, without a scan
-- of the rows already done (a half-sent 1M campaign resumes at once).
CREATE INDEX recipients_pending_idx ON recipients (campaign_id, next_attempt_at, id)
    WHERE status = 'pending';
-- Heartbeats and reconciliation: the few rows currently leased.
CREATE INDEX recipients_sending_idx ON recipients (campaign_id, lease_expires_at)
    WHERE status = 'sending';
-- A callback that finds no recipient for its sid first waits for a sender
-- writing one: it locks the recipient's rows still in 'sending' by phone.
-- Only the few rows in flight are in this index.
CREATE INDEX recipients_sending_phone_idx ON recipients (phone) WHERE status = 'sending';
-- Status callbacks find their recipient by Twilio's message sid.
CREATE INDEX recipients_message_sid_idx ON recipients (message_sid)
    WHERE message_sid IS NOT NULL;
-- No (campaign_id, status) index: every claim and every outcome changes the
-- status, and such an index cost 12% of the send path's database time;
-- counts by state read the campaign's rows through the unique index instead.

-- One row per import run: the audit of who loaded what.
CREATE TABLE imports (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    source      text NOT NULL,
    rows_read   integer NOT NULL DEFAULT 0,
    imported    integer NOT NULL DEFAULT 0,
    duplicates  integer NOT NULL DEFAULT 0,
    rejected    integer NOT NULL DEFAULT 0,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

CREATE TABLE import_rejects (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    source      text NOT NULL DEFAULT '',
    -- The line where the record starts in the file (1 = the header).
    source_line integer NOT NULL,
    raw         text NOT NULL,
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- Re-importing the same file records each reject once.
CREATE UNIQUE INDEX import_rejects_once_idx ON import_rejects (campaign_id, source_line, md5(raw));

-- Numbers never texted by any campaign.
CREATE TABLE opt_outs (
    phone      text PRIMARY KEY CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    reason     text NOT NULL DEFAULT '',
    -- Where it came from: inbound (a STOP reply), twilio (error 21610), manual.
    source     text NOT NULL DEFAULT 'manual',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The audit trail: one row per request to Twilio (and per reconciliation verdict).
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
    outcome       text NOT NULL
                  CHECK (outcome IN ('accepted', 'retry', 'in_doubt', 'failed', 'skipped',
                                     'campaign_error', 'found', 'not_found'))
);
CREATE INDEX send_attempts_recipient_idx ON send_attempts (recipient_id);
-- Rows arrive in time order, so a BRIN index finds "the last ten seconds"
-- (status's current rate) for a fraction of a btree's cost on every insert.
CREATE INDEX send_attempts_started_idx ON send_attempts USING brin (started_at);

-- Twilio's error codes that smsblast knows, so SQL can show words next to numbers.
CREATE TABLE twilio_errors (
    code        integer PRIMARY KEY,
    http_status integer,
    description text NOT NULL,
    -- How smsblast treats it: retryable (nothing sent, try later), recipient (this
    -- recipient failed), opt_out, campaign (pause the campaign), delivery (reported
    -- later by a status callback).
    class       text NOT NULL CHECK (class IN ('retryable', 'recipient', 'opt_out', 'campaign', 'delivery')),
    -- Whether `smsblast retry` requeues recipients that failed with it.
    retryable   boolean NOT NULL
);
-- Filled from the Twilio client's table (twilio/codes.go) by every smsblast
-- command at start-up: one source for the codes and their treatment.

-- Status callbacks as received, raw: the delivery audit trail, and the buffer for a
-- callback that arrives before the send's own outcome is written.
-- Each callback is kept as parsed, so that the sender can apply one that
-- arrived before it wrote the message's sid without parsing the payload
-- again in SQL.
CREATE TABLE message_events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_sid      text NOT NULL,
    -- Twilio's own word for the status.
    status           text NOT NULL,
    -- The recipient state it means (see campaign.FromTwilioStatus).
    recipient_status text CHECK (recipient_status IN ('accepted', 'sent', 'delivered', 'undelivered', 'failed')),
    error_code       integer,
    -- ErrorMessage when Twilio sent one, else the code's description.
    error_message    text,
    -- The carrier's delivery receipt time (RawDlrDoneDate), when present.
    done_at          timestamptz,
    payload          jsonb NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    applied_at       timestamptz
);
CREATE INDEX message_events_sid_idx ON message_events (message_sid);
CREATE INDEX message_events_unapplied_idx ON message_events (message_sid) WHERE applied_at IS NULL;

-- Live `smsblast send` processes: heartbeats split a campaign's rate among them and
-- let a new process tell a dead worker's leases from a live one's.
CREATE TABLE workers (
    id           text PRIMARY KEY,
    campaign_id  bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    hostname     text NOT NULL,
    pid          integer NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    stopped_at   timestamptz
);
CREATE INDEX workers_campaign_idx ON workers (campaign_id, heartbeat_at);

-- Per campaign: recipients by state, delivery rate and pace. One row per campaign.
CREATE VIEW campaign_stats AS
SELECT c.id                                                AS campaign_id,
       c.name,
       c.status                                            AS campaign_status,
       count(r.id)                                         AS total,
       count(r.id) FILTER (WHERE r.status = 'pending')     AS pending,
       count(r.id) FILTER (WHERE r.status = 'sending')     AS sending,
       count(r.id) FILTER (WHERE r.status = 'accepted')    AS accepted,
       count(r.id) FILTER (WHERE r.status = 'sent')        AS sent,
       count(r.id) FILTER (WHERE r.status = 'delivered')   AS delivered,
       count(r.id) FILTER (WHERE r.status = 'undelivered') AS undelivered,
       count(r.id) FILTER (WHERE r.status = 'failed')      AS failed,
       count(r.id) FILTER (WHERE r.status = 'skipped')     AS skipped,
       -- Delivered out of those Twilio took (a message sid), as a fraction 0..1.
       round(count(r.id) FILTER (WHERE r.status = 'delivered')::numeric
             / nullif(count(r.message_sid), 0), 4)         AS delivery_rate,
       min(r.sent_at)                                      AS first_sent_at,
       max(r.sent_at)                                      AS last_sent_at,
       -- Messages per second between the first and the last send.
       round((count(r.sent_at)
             / nullif(extract(epoch FROM max(r.sent_at) - min(r.sent_at)), 0))::numeric, 2)
                                                           AS avg_rate
FROM campaigns c
LEFT JOIN recipients r ON r.campaign_id = c.id
GROUP BY c.id;

-- One row per recipient with its campaign's name, its error in words and
-- when it opted out.
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
       r.updated_at,
       -- When the phone joined opt_outs; NULL if it has not.
       o.created_at    AS opted_out_at
FROM recipients r
JOIN campaigns c ON c.id = r.campaign_id
LEFT JOIN twilio_errors e ON e.code = r.error_code
LEFT JOIN opt_outs o ON o.phone = r.phone;

-- +goose Down
DROP VIEW recipient_results;
DROP VIEW campaign_stats;
DROP TABLE workers;
DROP TABLE message_events;
DROP TABLE twilio_errors;
DROP TABLE send_attempts;
DROP TABLE opt_outs;
DROP TABLE import_rejects;
DROP TABLE imports;
DROP TABLE recipients;
DROP TABLE campaigns;
