-- Counters, not counts (issue 14). `smsblast status`, campaign_stats and
-- serve's /metrics used to count every recipient row on every call: 57 s
-- for a 10M-recipient campaign. They now read per-campaign counters that
-- triggers on recipients keep exact, in the transaction that changes the
-- rows, whoever changes them: the engine's claims and records, callbacks,
-- retry, resolve, an import, a user's UPDATE in psql.
--
-- Shape, and why:
--   * Statement-level AFTER triggers with transition tables: one trigger
--     run per statement, however many rows it changed, aggregating the
--     statement's changes into a few deltas. A row-level trigger would run
--     (and upsert) once per row: 500 upserts for one claim of 500 rows.
--     A statement of one row (a status callback) takes a shorter way in
--     the update trigger, which makes it about half as expensive.
--   * Each counter is split into slots (pg_backend_pid() % 16) summed on
--     read, so concurrent senders write different rows instead of queueing
--     on one row per campaign until each other's commit.
--   * One wide row per (campaign, slot) holding every state's count, and
--     the trigger upserts it before any other counter row of the campaign.
--     A transaction uses one slot (one backend), so any transaction holding
--     a detail row (pending by zone, errors by code) of a (campaign, slot)
--     holds its wide row too, and two transactions cannot lock counter rows
--     in opposite orders. Rows keyed by (campaign, status, slot) instead
--     deadlock: a Record batch whose first statement moves sending to
--     pending and whose second (callbacks waiting for their sid) moves
--     accepted to delivered locks 'sending' then 'accepted', while another
--     batch in the same slot locks 'accepted' then 'sending'.
--   * first_sent_at and last_sent_at are each slot's min and max, widened
--     as sends are recorded. Rows only lose a sent_at through retry (or a
--     user's UPDATE or DELETE); when the value lost is the campaign's first
--     or last, the trigger locks the campaign's counter rows in slot order
--     and recomputes the range from the rows (one pass over the campaign's
--     rows, which holds off that campaign's other counter writers for as
--     long). When it is strictly inside the range, the range is unchanged.
--   * Error codes are counted for the verdicts status shows them for
--     (failed, undelivered, skipped); pending counts by time zone for the
--     send window.
--   * Whoever locks a campaigns row FOR UPDATE and then changes its
--     recipients can deadlock with a sender: a sender's Record holds its
--     counter row while its audit rows' foreign key takes KEY SHARE on the
--     campaign. Lock it FOR NO KEY UPDATE instead (store.Requeue does).
--
-- `smsblast db check` recounts from the rows and compares.

-- +goose Up
LOCK TABLE recipients IN SHARE ROW EXCLUSIVE MODE;

-- Per campaign and slot: recipients and their segments (sum of
-- recipients.segments) by state; those with a message sid; and the
-- recipients with a sent_at, their count, first and last.
CREATE TABLE campaign_counters (
    campaign_id          bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    slot                 smallint NOT NULL,
    pending              bigint NOT NULL DEFAULT 0,
    sending              bigint NOT NULL DEFAULT 0,
    accepted             bigint NOT NULL DEFAULT 0,
    sent                 bigint NOT NULL DEFAULT 0,
    delivered            bigint NOT NULL DEFAULT 0,
    undelivered          bigint NOT NULL DEFAULT 0,
    failed               bigint NOT NULL DEFAULT 0,
    skipped              bigint NOT NULL DEFAULT 0,
    expired              bigint NOT NULL DEFAULT 0,
    review               bigint NOT NULL DEFAULT 0,
    pending_segments     bigint NOT NULL DEFAULT 0,
    sending_segments     bigint NOT NULL DEFAULT 0,
    accepted_segments    bigint NOT NULL DEFAULT 0,
    sent_segments        bigint NOT NULL DEFAULT 0,
    delivered_segments   bigint NOT NULL DEFAULT 0,
    undelivered_segments bigint NOT NULL DEFAULT 0,
    failed_segments      bigint NOT NULL DEFAULT 0,
    skipped_segments     bigint NOT NULL DEFAULT 0,
    expired_segments     bigint NOT NULL DEFAULT 0,
    review_segments      bigint NOT NULL DEFAULT 0,
    with_sid             bigint NOT NULL DEFAULT 0,
    with_sid_segments    bigint NOT NULL DEFAULT 0,
    with_sent_at         bigint NOT NULL DEFAULT 0,
    first_sent_at        timestamptz,
    last_sent_at         timestamptz,
    PRIMARY KEY (campaign_id, slot)
) WITH (fillfactor = 50); -- room on the page for HOT updates: one per statement

-- Pending recipients by recipients.time_zones ('' when unknown).
CREATE TABLE campaign_pending_zones (
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    time_zones  text NOT NULL,
    slot        smallint NOT NULL,
    recipients  bigint NOT NULL DEFAULT 0,
    segments    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, time_zones, slot)
) WITH (fillfactor = 50);

-- Failed, undelivered and skipped recipients by error code.
CREATE TABLE campaign_error_counters (
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    status      text NOT NULL,
    error_code  integer NOT NULL,
    slot        smallint NOT NULL,
    recipients  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, status, error_code, slot)
) WITH (fillfactor = 50);

-- One statement's net change to the counters, at the finest grain any
-- counter needs: what the trigger functions hand to recipient_counters_apply.
CREATE TYPE recipient_count_delta AS (
    campaign_id   bigint,
    status        text,
    time_zones    text,        -- for pending only ('' when unknown)
    error_code    integer,     -- for failed, undelivered, skipped only
    recipients    bigint,
    segments      bigint,
    with_sid      bigint,
    sid_segments  bigint,
    with_sent_at  bigint,
    -- The earliest and latest sent_at of the rows as the statement left
    -- them: the range widens to take them in.
    first_sent_at timestamptz,
    last_sent_at  timestamptz,
    -- The campaign's earliest (latest) sent_at among the rows before the
    -- statement, when the statement left none as early (late): a possible
    -- end of the range taken away.
    lost_first    timestamptz,
    lost_last     timestamptz
);

-- recipient_counters_lose_sent_at is called, after this backend's slot
-- row of the campaign was written (and so locked), when a statement took
-- away sent_at values of the campaign, the earliest lost_first and the
-- latest lost_last. Only a value at or beyond an end of the range can move
-- that end; then the range is recounted from the rows. It is read after
-- the lock, so a concurrent recount has either committed (and is seen) or
-- waits for this transaction.
-- +goose StatementBegin
CREATE FUNCTION recipient_counters_lose_sent_at(campaign bigint, lost_first timestamptz, lost_last timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz;
    hi timestamptz;
BEGIN
    SELECT min(k.first_sent_at), max(k.last_sent_at) INTO lo, hi
    FROM campaign_counters k WHERE k.campaign_id = campaign;
    IF lo IS NULL OR lost_first <= lo OR lost_last >= hi THEN
        -- Every slot, in slot order: writers of other slots that have not
        -- committed are waited for, so the recount below (a new statement,
        -- a new snapshot) sees their rows.
        PERFORM 1 FROM campaign_counters k WHERE k.campaign_id = campaign ORDER BY k.slot FOR UPDATE;
        SELECT min(x.sent_at), max(x.sent_at) INTO lo, hi FROM recipients x WHERE x.campaign_id = campaign;
        UPDATE campaign_counters k SET first_sent_at = lo, last_sent_at = hi WHERE k.campaign_id = campaign;
    END IF;
END $$;
-- +goose StatementEnd

-- recipient_counters_apply adds a statement's deltas to the counters of
-- this backend's slot: first the wide rows (one per campaign, in campaign
-- order: the lock every other counter row of the campaign comes after),
-- then the sent_at ranges that may have lost an end, then the detail rows.
-- The flags say which of the last three steps the deltas need, so that the
-- send path's statements (a claim: states and zones; a record: states)
-- run no query they do not need.
-- +goose StatementBegin
CREATE FUNCTION recipient_counters_apply(deltas recipient_count_delta[], zones boolean, errors boolean, losses boolean)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    my_slot smallint := pg_backend_pid() % 16;
BEGIN
    INSERT INTO campaign_counters AS k (campaign_id, slot,
        pending, sending, accepted, sent, delivered, undelivered, failed, skipped, expired, review,
        pending_segments, sending_segments, accepted_segments, sent_segments, delivered_segments,
        undelivered_segments, failed_segments, skipped_segments, expired_segments, review_segments,
        with_sid, with_sid_segments, with_sent_at, first_sent_at, last_sent_at)
    SELECT d.campaign_id, my_slot,
           coalesce(sum(d.recipients) FILTER (WHERE d.status = 'pending'), 0),
           coalesce(sum(d.recipients) FILTER (WHERE d.status = 'sending'), 0),
           coalesce(sum(d.recipients) FILTER (WHERE d.status = 'accepted'), 0),
           coalesce(sum(d.recipients) FILTER (WHERE d.status = 'sent'), 0),
           coalesce(sum(d.recipients) FILTER (WHERE d.status = 'delivered'), 0),
           coalesce(sum(d.recipients) FILTER (WHERE d.status = 'undelivered'), 0),
           coalesce(sum(d.recipients) FILTER (WHERE d.status = 'failed'), 0),
           coalesce(sum(d.recipients) FILTER (WHERE d.status = 'skipped'), 0),
           coalesce(sum(d.recipients) FILTER (WHERE d.status = 'expired'), 0),
           coalesce(sum(d.recipients) FILTER (WHERE d.status = 'review'), 0),
           coalesce(sum(d.segments) FILTER (WHERE d.status = 'pending'), 0),
           coalesce(sum(d.segments) FILTER (WHERE d.status = 'sending'), 0),
           coalesce(sum(d.segments) FILTER (WHERE d.status = 'accepted'), 0),
           coalesce(sum(d.segments) FILTER (WHERE d.status = 'sent'), 0),
           coalesce(sum(d.segments) FILTER (WHERE d.status = 'delivered'), 0),
           coalesce(sum(d.segments) FILTER (WHERE d.status = 'undelivered'), 0),
           coalesce(sum(d.segments) FILTER (WHERE d.status = 'failed'), 0),
           coalesce(sum(d.segments) FILTER (WHERE d.status = 'skipped'), 0),
           coalesce(sum(d.segments) FILTER (WHERE d.status = 'expired'), 0),
           coalesce(sum(d.segments) FILTER (WHERE d.status = 'review'), 0),
           sum(d.with_sid), sum(d.sid_segments), sum(d.with_sent_at),
           min(d.first_sent_at), max(d.last_sent_at)
    FROM unnest(deltas) AS d
    GROUP BY d.campaign_id
    ORDER BY d.campaign_id
    ON CONFLICT (campaign_id, slot) DO UPDATE SET
        pending              = k.pending + excluded.pending,
        sending              = k.sending + excluded.sending,
        accepted             = k.accepted + excluded.accepted,
        sent                 = k.sent + excluded.sent,
        delivered            = k.delivered + excluded.delivered,
        undelivered          = k.undelivered + excluded.undelivered,
        failed               = k.failed + excluded.failed,
        skipped              = k.skipped + excluded.skipped,
        expired              = k.expired + excluded.expired,
        review               = k.review + excluded.review,
        pending_segments     = k.pending_segments + excluded.pending_segments,
        sending_segments     = k.sending_segments + excluded.sending_segments,
        accepted_segments    = k.accepted_segments + excluded.accepted_segments,
        sent_segments        = k.sent_segments + excluded.sent_segments,
        delivered_segments   = k.delivered_segments + excluded.delivered_segments,
        undelivered_segments = k.undelivered_segments + excluded.undelivered_segments,
        failed_segments      = k.failed_segments + excluded.failed_segments,
        skipped_segments     = k.skipped_segments + excluded.skipped_segments,
        expired_segments     = k.expired_segments + excluded.expired_segments,
        review_segments      = k.review_segments + excluded.review_segments,
        with_sid             = k.with_sid + excluded.with_sid,
        with_sid_segments    = k.with_sid_segments + excluded.with_sid_segments,
        with_sent_at         = k.with_sent_at + excluded.with_sent_at,
        -- least and greatest ignore NULLs.
        first_sent_at        = least(k.first_sent_at, excluded.first_sent_at),
        last_sent_at         = greatest(k.last_sent_at, excluded.last_sent_at);

    IF losses THEN
        PERFORM recipient_counters_lose_sent_at(r.campaign_id, r.lost_first, r.lost_last)
        FROM (
            SELECT d.campaign_id, min(d.lost_first) AS lost_first, max(d.lost_last) AS lost_last
            FROM unnest(deltas) AS d
            WHERE d.lost_first IS NOT NULL OR d.lost_last IS NOT NULL
            GROUP BY d.campaign_id ORDER BY d.campaign_id
        ) r;
    END IF;

    IF zones THEN
        INSERT INTO campaign_pending_zones AS z (campaign_id, time_zones, slot, recipients, segments)
        SELECT d.campaign_id, d.time_zones, my_slot, sum(d.recipients), sum(d.segments)
        FROM unnest(deltas) AS d
        WHERE d.time_zones IS NOT NULL
        GROUP BY d.campaign_id, d.time_zones
        HAVING sum(d.recipients) <> 0 OR sum(d.segments) <> 0
        ORDER BY d.campaign_id, d.time_zones
        ON CONFLICT (campaign_id, time_zones, slot) DO UPDATE SET
            recipients = z.recipients + excluded.recipients,
            segments   = z.segments + excluded.segments;
    END IF;

    IF errors THEN
        INSERT INTO campaign_error_counters AS e (campaign_id, status, error_code, slot, recipients)
        SELECT d.campaign_id, d.status, d.error_code, my_slot, sum(d.recipients)
        FROM unnest(deltas) AS d
        WHERE d.error_code IS NOT NULL
        GROUP BY d.campaign_id, d.status, d.error_code
        HAVING sum(d.recipients) <> 0
        ORDER BY d.campaign_id, d.status, d.error_code
        ON CONFLICT (campaign_id, status, error_code, slot) DO UPDATE SET
            recipients = e.recipients + excluded.recipients;
    END IF;
END $$;
-- +goose StatementEnd

-- The trigger functions turn a statement's transition tables into deltas.
-- Which columns count for what is said in the same words in each:
-- time_zones (as '' when unknown) for pending rows only, error_code for
-- failed, undelivered and skipped rows only. (A SQL function saying it once
-- is not inlined, and costs a call per row.) Each side of a statement is
-- aggregated on its own, +1 for the rows as they are and -1 for the rows
-- as they were, and the groups that net to nothing are dropped: cheaper
-- than pairing old and new rows by id, and it drops the same rows (those
-- whose counted columns did not change).

-- +goose StatementBegin
CREATE FUNCTION recipients_count_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    deltas recipient_count_delta[];
    zones boolean;
    errors boolean;
BEGIN
    SELECT array_agg(ROW(g.campaign_id, g.status, g.zone, g.error, g.n, g.segments, g.with_sid,
                         g.sid_segments, g.with_sent_at, g.first_sent_at, g.last_sent_at, NULL, NULL
                        )::recipient_count_delta),
           bool_or(g.zone IS NOT NULL), bool_or(g.error IS NOT NULL)
    INTO deltas, zones, errors
    FROM (
        SELECT n.campaign_id, n.status,
               CASE WHEN n.status = 'pending' THEN coalesce(n.time_zones, '') END AS zone,
               CASE WHEN n.status IN ('failed', 'undelivered', 'skipped') THEN n.error_code END AS error,
               count(*) AS n, coalesce(sum(n.segments), 0) AS segments,
               count(n.message_sid) AS with_sid,
               coalesce(sum(n.segments) FILTER (WHERE n.message_sid IS NOT NULL), 0) AS sid_segments,
               count(n.sent_at) AS with_sent_at, min(n.sent_at) AS first_sent_at, max(n.sent_at) AS last_sent_at
        FROM new_rows n
        GROUP BY 1, 2, 3, 4
    ) g;
    IF deltas IS NOT NULL THEN
        PERFORM recipient_counters_apply(deltas, zones, errors, false);
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION recipients_count_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    deltas recipient_count_delta[];
    zones boolean;
    errors boolean;
    losses boolean;
BEGIN
    -- Rows deleted with their campaign (ON DELETE CASCADE) have no counters
    -- left to change: the campaign's went with it.
    SELECT array_agg(ROW(g.campaign_id, g.status, g.zone, g.error, -g.n, -g.segments, -g.with_sid,
                         -g.sid_segments, -g.with_sent_at, NULL, NULL, g.first_sent_at, g.last_sent_at
                        )::recipient_count_delta),
           bool_or(g.zone IS NOT NULL), bool_or(g.error IS NOT NULL), bool_or(g.with_sent_at > 0)
    INTO deltas, zones, errors, losses
    FROM (
        SELECT o.campaign_id, o.status,
               CASE WHEN o.status = 'pending' THEN coalesce(o.time_zones, '') END AS zone,
               CASE WHEN o.status IN ('failed', 'undelivered', 'skipped') THEN o.error_code END AS error,
               count(*) AS n, coalesce(sum(o.segments), 0) AS segments,
               count(o.message_sid) AS with_sid,
               coalesce(sum(o.segments) FILTER (WHERE o.message_sid IS NOT NULL), 0) AS sid_segments,
               count(o.sent_at) AS with_sent_at, min(o.sent_at) AS first_sent_at, max(o.sent_at) AS last_sent_at
        FROM old_rows o
        GROUP BY 1, 2, 3, 4
        HAVING EXISTS (SELECT 1 FROM campaigns c WHERE c.id = o.campaign_id)
    ) g;
    IF deltas IS NOT NULL THEN
        PERFORM recipient_counters_apply(deltas, zones, errors, losses);
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- An update's old and new sides are aggregated apart and summed per group;
-- the campaign's sent_at range before and after comes from window
-- functions over its groups. A heartbeat that renews leases nets to
-- nothing and writes no counter.
--
-- A statement that changed one row (a status callback, a record at a low
-- rate) takes a shorter way: its row's old and new values are read once,
-- and one upsert of known values writes the slot row. The aggregating query
-- costs a statement about 60 µs of the server's CPU whatever its size;
-- status callbacks, one statement each, would pay it every time.
-- +goose StatementBegin
CREATE FUNCTION recipients_count_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    deltas recipient_count_delta[];
    zones boolean;
    errors boolean;
    losses boolean;
    my_slot smallint := pg_backend_pid() % 16;
    rows_changed bigint;
    oc bigint; os text; oseg bigint; osid boolean; osent timestamptz; ozone text; oerr integer;
    nc bigint; ns text; nseg bigint; nsid boolean; nsent timestamptz; nzone text; nerr integer;
BEGIN
    SELECT x.n, o.campaign_id, o.status, coalesce(o.segments, 0), o.message_sid IS NOT NULL, o.sent_at,
           CASE WHEN o.status = 'pending' THEN coalesce(o.time_zones, '') END,
           CASE WHEN o.status IN ('failed', 'undelivered', 'skipped') THEN o.error_code END,
           n.campaign_id, n.status, coalesce(n.segments, 0), n.message_sid IS NOT NULL, n.sent_at,
           CASE WHEN n.status = 'pending' THEN coalesce(n.time_zones, '') END,
           CASE WHEN n.status IN ('failed', 'undelivered', 'skipped') THEN n.error_code END
    INTO rows_changed, oc, os, oseg, osid, osent, ozone, oerr, nc, ns, nseg, nsid, nsent, nzone, nerr
    FROM (SELECT count(*) AS n FROM new_rows) x
    LEFT JOIN LATERAL (SELECT * FROM old_rows LIMIT 1) o ON x.n = 1
    LEFT JOIN LATERAL (SELECT * FROM new_rows LIMIT 1) n ON x.n = 1;
    -- Statements that matched no row fire the trigger too: the engine's
    -- Record runs one (callbacks waiting for their sid) on every batch.
    IF rows_changed = 0 THEN
        RETURN NULL;
    END IF;
    IF rows_changed = 1 AND oc = nc THEN
        IF (os, oseg, osid, osent, ozone, oerr) IS NOT DISTINCT FROM (ns, nseg, nsid, nsent, nzone, nerr) THEN
            RETURN NULL;
        END IF;
        INSERT INTO campaign_counters AS k (campaign_id, slot,
            pending, sending, accepted, sent, delivered, undelivered, failed, skipped, expired, review,
            pending_segments, sending_segments, accepted_segments, sent_segments, delivered_segments,
            undelivered_segments, failed_segments, skipped_segments, expired_segments, review_segments,
            with_sid, with_sid_segments, with_sent_at, first_sent_at, last_sent_at)
        VALUES (nc, my_slot,
                (ns = 'pending')::int - (os = 'pending')::int,
                (ns = 'sending')::int - (os = 'sending')::int,
                (ns = 'accepted')::int - (os = 'accepted')::int,
                (ns = 'sent')::int - (os = 'sent')::int,
                (ns = 'delivered')::int - (os = 'delivered')::int,
                (ns = 'undelivered')::int - (os = 'undelivered')::int,
                (ns = 'failed')::int - (os = 'failed')::int,
                (ns = 'skipped')::int - (os = 'skipped')::int,
                (ns = 'expired')::int - (os = 'expired')::int,
                (ns = 'review')::int - (os = 'review')::int,
                CASE WHEN ns = 'pending' THEN nseg ELSE 0 END - CASE WHEN os = 'pending' THEN oseg ELSE 0 END,
                CASE WHEN ns = 'sending' THEN nseg ELSE 0 END - CASE WHEN os = 'sending' THEN oseg ELSE 0 END,
                CASE WHEN ns = 'accepted' THEN nseg ELSE 0 END - CASE WHEN os = 'accepted' THEN oseg ELSE 0 END,
                CASE WHEN ns = 'sent' THEN nseg ELSE 0 END - CASE WHEN os = 'sent' THEN oseg ELSE 0 END,
                CASE WHEN ns = 'delivered' THEN nseg ELSE 0 END - CASE WHEN os = 'delivered' THEN oseg ELSE 0 END,
                CASE WHEN ns = 'undelivered' THEN nseg ELSE 0 END - CASE WHEN os = 'undelivered' THEN oseg ELSE 0 END,
                CASE WHEN ns = 'failed' THEN nseg ELSE 0 END - CASE WHEN os = 'failed' THEN oseg ELSE 0 END,
                CASE WHEN ns = 'skipped' THEN nseg ELSE 0 END - CASE WHEN os = 'skipped' THEN oseg ELSE 0 END,
                CASE WHEN ns = 'expired' THEN nseg ELSE 0 END - CASE WHEN os = 'expired' THEN oseg ELSE 0 END,
                CASE WHEN ns = 'review' THEN nseg ELSE 0 END - CASE WHEN os = 'review' THEN oseg ELSE 0 END,
                nsid::int - osid::int,
                CASE WHEN nsid THEN nseg ELSE 0 END - CASE WHEN osid THEN oseg ELSE 0 END,
                (nsent IS NOT NULL)::int - (osent IS NOT NULL)::int,
                nsent, nsent)
        ON CONFLICT (campaign_id, slot) DO UPDATE SET
            pending = k.pending + excluded.pending,
            sending = k.sending + excluded.sending,
            accepted = k.accepted + excluded.accepted,
            sent = k.sent + excluded.sent,
            delivered = k.delivered + excluded.delivered,
            undelivered = k.undelivered + excluded.undelivered,
            failed = k.failed + excluded.failed,
            skipped = k.skipped + excluded.skipped,
            expired = k.expired + excluded.expired,
            review = k.review + excluded.review,
            pending_segments = k.pending_segments + excluded.pending_segments,
            sending_segments = k.sending_segments + excluded.sending_segments,
            accepted_segments = k.accepted_segments + excluded.accepted_segments,
            sent_segments = k.sent_segments + excluded.sent_segments,
            delivered_segments = k.delivered_segments + excluded.delivered_segments,
            undelivered_segments = k.undelivered_segments + excluded.undelivered_segments,
            failed_segments = k.failed_segments + excluded.failed_segments,
            skipped_segments = k.skipped_segments + excluded.skipped_segments,
            expired_segments = k.expired_segments + excluded.expired_segments,
            review_segments = k.review_segments + excluded.review_segments,
            with_sid = k.with_sid + excluded.with_sid,
            with_sid_segments = k.with_sid_segments + excluded.with_sid_segments,
            with_sent_at = k.with_sent_at + excluded.with_sent_at,
            first_sent_at = least(k.first_sent_at, excluded.first_sent_at),
            last_sent_at = greatest(k.last_sent_at, excluded.last_sent_at);
        IF osent IS DISTINCT FROM nsent AND osent IS NOT NULL THEN
            PERFORM recipient_counters_lose_sent_at(nc, osent, osent);
        END IF;
        IF (ozone IS NOT NULL OR nzone IS NOT NULL) AND (ozone, oseg) IS DISTINCT FROM (nzone, nseg) THEN
            INSERT INTO campaign_pending_zones AS z (campaign_id, time_zones, slot, recipients, segments)
            SELECT nc, v.zone, my_slot, sum(v.recipients), sum(v.segments)
            FROM (VALUES (ozone, -1, -oseg), (nzone, 1, nseg)) AS v(zone, recipients, segments)
            WHERE v.zone IS NOT NULL
            GROUP BY v.zone ORDER BY v.zone
            ON CONFLICT (campaign_id, time_zones, slot) DO UPDATE SET
                recipients = z.recipients + excluded.recipients,
                segments   = z.segments + excluded.segments;
        END IF;
        IF (oerr IS NOT NULL OR nerr IS NOT NULL) AND (os, oerr) IS DISTINCT FROM (ns, nerr) THEN
            INSERT INTO campaign_error_counters AS e (campaign_id, status, error_code, slot, recipients)
            SELECT nc, v.status, v.error_code, my_slot, sum(v.recipients)
            FROM (VALUES (os, oerr, -1), (ns, nerr, 1)) AS v(status, error_code, recipients)
            WHERE v.error_code IS NOT NULL
            GROUP BY v.status, v.error_code ORDER BY v.status, v.error_code
            ON CONFLICT (campaign_id, status, error_code, slot) DO UPDATE SET
                recipients = e.recipients + excluded.recipients;
        END IF;
        RETURN NULL;
    END IF;
    SELECT array_agg(ROW(x.campaign_id, x.status, x.zone, x.error, x.n, x.segments, x.with_sid,
                         x.sid_segments, x.with_sent_at, x.new_first, x.new_last, x.lost_first, x.lost_last
                        )::recipient_count_delta),
           bool_or(x.zone IS NOT NULL), bool_or(x.error IS NOT NULL),
           bool_or(x.lost_first IS NOT NULL OR x.lost_last IS NOT NULL)
    INTO deltas, zones, errors, losses
    FROM (
        SELECT g.*,
               CASE WHEN min(g.new_first) OVER w IS NULL OR min(g.new_first) OVER w > min(g.old_first) OVER w
                    THEN min(g.old_first) OVER w END AS lost_first,
               CASE WHEN max(g.new_last) OVER w IS NULL OR max(g.new_last) OVER w < max(g.old_last) OVER w
                    THEN max(g.old_last) OVER w END AS lost_last
        FROM (
            SELECT s.campaign_id, s.status, s.zone, s.error,
                   sum(s.n) AS n, sum(s.segments) AS segments, sum(s.with_sid) AS with_sid,
                   sum(s.sid_segments) AS sid_segments, sum(s.with_sent_at) AS with_sent_at,
                   min(s.old_first) AS old_first, max(s.old_last) AS old_last,
                   min(s.new_first) AS new_first, max(s.new_last) AS new_last
            FROM (
                SELECT o.campaign_id, o.status,
                       CASE WHEN o.status = 'pending' THEN coalesce(o.time_zones, '') END AS zone,
                       CASE WHEN o.status IN ('failed', 'undelivered', 'skipped') THEN o.error_code END AS error,
                       -count(*) AS n, -coalesce(sum(o.segments), 0) AS segments,
                       -count(o.message_sid) AS with_sid,
                       -coalesce(sum(o.segments) FILTER (WHERE o.message_sid IS NOT NULL), 0) AS sid_segments,
                       -count(o.sent_at) AS with_sent_at,
                       min(o.sent_at) AS old_first, max(o.sent_at) AS old_last,
                       NULL::timestamptz AS new_first, NULL::timestamptz AS new_last
                FROM old_rows o
                GROUP BY 1, 2, 3, 4
                UNION ALL
                SELECT n.campaign_id, n.status,
                       CASE WHEN n.status = 'pending' THEN coalesce(n.time_zones, '') END,
                       CASE WHEN n.status IN ('failed', 'undelivered', 'skipped') THEN n.error_code END,
                       count(*), coalesce(sum(n.segments), 0),
                       count(n.message_sid),
                       coalesce(sum(n.segments) FILTER (WHERE n.message_sid IS NOT NULL), 0),
                       count(n.sent_at),
                       NULL, NULL, min(n.sent_at), max(n.sent_at)
                FROM new_rows n
                GROUP BY 1, 2, 3, 4
            ) s
            GROUP BY 1, 2, 3, 4
        ) g
        WINDOW w AS (PARTITION BY g.campaign_id)
    ) x
    WHERE x.n <> 0 OR x.segments <> 0 OR x.with_sid <> 0 OR x.sid_segments <> 0 OR x.with_sent_at <> 0
       OR (x.old_first, x.old_last) IS DISTINCT FROM (x.new_first, x.new_last);
    IF deltas IS NOT NULL THEN
        PERFORM recipient_counters_apply(deltas, zones, errors, losses);
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION recipients_count_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM campaign_counters;
    DELETE FROM campaign_pending_zones;
    DELETE FROM campaign_error_counters;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER recipients_count_insert AFTER INSERT ON recipients
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recipients_count_insert();
CREATE TRIGGER recipients_count_update AFTER UPDATE ON recipients
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recipients_count_update();
CREATE TRIGGER recipients_count_delete AFTER DELETE ON recipients
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION recipients_count_delete();
CREATE TRIGGER recipients_count_truncate AFTER TRUNCATE ON recipients
    FOR EACH STATEMENT EXECUTE FUNCTION recipients_count_truncate();

-- Backfill: the rows as they are, all in slot 0. The lock above keeps
-- writers out until this migration commits.
INSERT INTO campaign_counters (campaign_id, slot,
    pending, sending, accepted, sent, delivered, undelivered, failed, skipped, expired, review,
    pending_segments, sending_segments, accepted_segments, sent_segments, delivered_segments,
    undelivered_segments, failed_segments, skipped_segments, expired_segments, review_segments,
    with_sid, with_sid_segments, with_sent_at, first_sent_at, last_sent_at)
SELECT campaign_id, 0,
       count(*) FILTER (WHERE status = 'pending'),
       count(*) FILTER (WHERE status = 'sending'),
       count(*) FILTER (WHERE status = 'accepted'),
       count(*) FILTER (WHERE status = 'sent'),
       count(*) FILTER (WHERE status = 'delivered'),
       count(*) FILTER (WHERE status = 'undelivered'),
       count(*) FILTER (WHERE status = 'failed'),
       count(*) FILTER (WHERE status = 'skipped'),
       count(*) FILTER (WHERE status = 'expired'),
       count(*) FILTER (WHERE status = 'review'),
       coalesce(sum(segments) FILTER (WHERE status = 'pending'), 0),
       coalesce(sum(segments) FILTER (WHERE status = 'sending'), 0),
       coalesce(sum(segments) FILTER (WHERE status = 'accepted'), 0),
       coalesce(sum(segments) FILTER (WHERE status = 'sent'), 0),
       coalesce(sum(segments) FILTER (WHERE status = 'delivered'), 0),
       coalesce(sum(segments) FILTER (WHERE status = 'undelivered'), 0),
       coalesce(sum(segments) FILTER (WHERE status = 'failed'), 0),
       coalesce(sum(segments) FILTER (WHERE status = 'skipped'), 0),
       coalesce(sum(segments) FILTER (WHERE status = 'expired'), 0),
       coalesce(sum(segments) FILTER (WHERE status = 'review'), 0),
       count(message_sid), coalesce(sum(segments) FILTER (WHERE message_sid IS NOT NULL), 0),
       count(sent_at), min(sent_at), max(sent_at)
FROM recipients GROUP BY campaign_id;
INSERT INTO campaign_pending_zones (campaign_id, time_zones, slot, recipients, segments)
SELECT campaign_id, coalesce(time_zones, ''), 0, count(*), coalesce(sum(segments), 0)
FROM recipients WHERE status = 'pending' GROUP BY 1, 2;
INSERT INTO campaign_error_counters (campaign_id, status, error_code, slot, recipients)
SELECT campaign_id, status, error_code, 0, count(*)
FROM recipients WHERE status IN ('failed', 'undelivered', 'skipped') AND error_code IS NOT NULL
GROUP BY 1, 2, 3;

-- The view reads the counters: a handful of rows per campaign however many
-- recipients it has. Same columns as before, plus expired and review.
DROP VIEW campaign_stats;
CREATE VIEW campaign_stats AS
SELECT c.id                                      AS campaign_id,
       c.name,
       c.status                                  AS campaign_status,
       coalesce(k.total, 0)                      AS total,
       coalesce(k.pending, 0)                    AS pending,
       coalesce(k.sending, 0)                    AS sending,
       coalesce(k.accepted, 0)                   AS accepted,
       coalesce(k.sent, 0)                       AS sent,
       coalesce(k.delivered, 0)                  AS delivered,
       coalesce(k.undelivered, 0)                AS undelivered,
       coalesce(k.failed, 0)                     AS failed,
       coalesce(k.skipped, 0)                    AS skipped,
       coalesce(k.expired, 0)                    AS expired,
       coalesce(k.review, 0)                     AS review,
       -- Delivered out of those Twilio took (a message sid), as a fraction 0..1.
       round(k.delivered::numeric / nullif(k.with_sid, 0), 4) AS delivery_rate,
       k.first_sent_at,
       k.last_sent_at,
       -- Messages per second between the first and the last send.
       round((k.with_sent_at / nullif(extract(epoch FROM k.last_sent_at - k.first_sent_at), 0))::numeric, 2)
                                                 AS avg_rate
FROM campaigns c
LEFT JOIN LATERAL (
    SELECT sum(pending + sending + accepted + sent + delivered + undelivered + failed + skipped
               + expired + review)::bigint AS total,
           sum(pending)::bigint AS pending, sum(sending)::bigint AS sending,
           sum(accepted)::bigint AS accepted, sum(sent)::bigint AS sent,
           sum(delivered)::bigint AS delivered, sum(undelivered)::bigint AS undelivered,
           sum(failed)::bigint AS failed, sum(skipped)::bigint AS skipped,
           sum(expired)::bigint AS expired, sum(review)::bigint AS review,
           sum(with_sid)::bigint AS with_sid, sum(with_sent_at)::bigint AS with_sent_at,
           min(first_sent_at) AS first_sent_at, max(last_sent_at) AS last_sent_at
    FROM campaign_counters WHERE campaign_id = c.id
) k ON true;

-- +goose Down
DROP VIEW campaign_stats;
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
       round(count(r.id) FILTER (WHERE r.status = 'delivered')::numeric
             / nullif(count(r.message_sid), 0), 4)         AS delivery_rate,
       min(r.sent_at)                                      AS first_sent_at,
       max(r.sent_at)                                      AS last_sent_at,
       round((count(r.sent_at)
             / nullif(extract(epoch FROM max(r.sent_at) - min(r.sent_at)), 0))::numeric, 2)
                                                           AS avg_rate
FROM campaigns c
LEFT JOIN recipients r ON r.campaign_id = c.id
GROUP BY c.id;
DROP TRIGGER recipients_count_truncate ON recipients;
DROP TRIGGER recipients_count_delete ON recipients;
DROP TRIGGER recipients_count_update ON recipients;
DROP TRIGGER recipients_count_insert ON recipients;
DROP FUNCTION recipients_count_truncate();
DROP FUNCTION recipients_count_update();
DROP FUNCTION recipients_count_delete();
DROP FUNCTION recipients_count_insert();
DROP FUNCTION recipient_counters_apply(recipient_count_delta[], boolean, boolean, boolean);
DROP FUNCTION recipient_counters_lose_sent_at(bigint, timestamptz, timestamptz);
DROP TYPE recipient_count_delta;
DROP TABLE campaign_error_counters;
DROP TABLE campaign_pending_zones;
DROP TABLE campaign_counters;
