-- A reject is recorded once per file, not once per campaign: two files
-- with the same text on the same line (a header-like junk line, a bad
-- number both exports carry) are two rejects, and each import's summary,
-- which says its rejects are in import_rejects, is true of both.
-- Re-importing a file (the same name) still records nothing new.

-- +goose Up
DROP INDEX import_rejects_once_idx;
CREATE UNIQUE INDEX import_rejects_once_idx ON import_rejects (campaign_id, source, source_line, md5(raw));

-- +goose Down
-- The older rule keeps the first of the same line and text from several files.
DELETE FROM import_rejects a USING import_rejects b
WHERE a.campaign_id = b.campaign_id AND a.source_line = b.source_line
  AND md5(a.raw) = md5(b.raw) AND a.id > b.id;
DROP INDEX import_rejects_once_idx;
CREATE UNIQUE INDEX import_rejects_once_idx ON import_rejects (campaign_id, source_line, md5(raw));
