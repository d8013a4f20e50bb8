-- What columns each import gave its recipients, so that `smsblast report`
-- knows the CSV's columns from a few rows of imports instead of reading
-- the keys of every recipient's attrs (a pass over all of a campaign's
-- rows before the first line of the report: ten million of them for a
-- big one).

-- +goose Up
-- The attrs keys of the rows the import inserted (its CSV's columns but
-- the phone, in lower_snake_case), in column order; NULL for imports
-- older than this column, whose keys only the rows know.
ALTER TABLE imports ADD COLUMN attr_keys text[];

-- +goose Down
ALTER TABLE imports DROP COLUMN attr_keys;
