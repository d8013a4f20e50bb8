// Package migrations holds smsblast's database schema as goose SQL files,
// embedded in the binary so that every smsblast process can bring any database
// up to date at start-up (store.Migrate).
//
// The schema is a contract: users write SQL against its tables and views.
// Change it only by adding a new numbered file; never edit a released one.
package migrations

import "embed"

// FS holds the migration files, named NNNNN_description.sql.
//
//go:embed *.sql
var FS embed.FS
