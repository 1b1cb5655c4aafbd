// Package schema embeds failforward's published contracts and read-model
// migrations so that every binary carries them.
package schema

import "embed"

// Migrations holds the numbered read-model migrations, one folder per SQL
// dialect: migrations/postgres/NNNN_name.sql and migrations/sqlite/….
//
//go:embed migrations
var Migrations embed.FS

// Events holds the JSON Schemas of the event contract: events/cloudevent.json
// for the CloudEvents envelope, and events/<name>.v<N>.json for each
// version of each payload that was ever written (their file names are
// what events.SchemaOf returns). Schemas of old versions are kept forever,
// because the stream never forgets an event.
//
//go:embed events/*.json
var Events embed.FS

// Documents holds the API descriptions: openapi.yaml (OpenAPI 3.1, the
// HTTP API) and asyncapi.yaml (AsyncAPI 3.0, the event stream).
//
//go:embed openapi.yaml asyncapi.yaml
var Documents embed.FS
