// Package schema embeds failforward's published contracts and read-model
// migrations so that every binary carries them.
package schema

import "embed"

// Migrations holds the numbered read-model migrations, one folder per SQL
// dialect: migrations/postgres/NNNN_name.sql and migrations/sqlite/….
//
//go:embed migrations
var Migrations embed.FS
