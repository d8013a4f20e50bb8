// Package csvimport loads recipient CSVs into campaigns: it streams the file,
// normalises each phone number to E.164, renders the body to count its
// segments, deduplicates against the campaign, and copies the rows in one
// transaction, keeping every rejected row with its line number and reason.
// It needs a campaign.ImportStore (package store).
package csvimport
