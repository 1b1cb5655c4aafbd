// Package schema embeds failforward's published contracts and read-model
// migrations so that every binary carries them.
package schema

import (
	"embed"
	"io/fs"
	"strings"
)

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

// EventSchemaIDPrefix begins the $id of every schema in events/: the file
// events/<name>.json has the $id EventSchemaIDPrefix+<name>, and an
// event's dataschema is that $id. A name, not an address, so that a
// validator resolves it from these files, offline, wherever they are
// published (the api serves them at /schema/events/<name>.json).
const EventSchemaIDPrefix = "urn:failforward:schema:events:"

// LegacyEventSchemaBase is the base of the dataschema of events written
// before EventSchemaIDPrefix: <base><name>.json names events/<name>.json.
// No such address ever served the files; EventSchemaFile resolves it to
// them, because the stream keeps those events forever.
const LegacyEventSchemaBase = "https://raw.githubusercontent.com/failforward/failforward/main/schema/events/"

// EventSchemaID returns the $id of the schema in file, a name in events/
// such as "experiment.concluded.v1.json".
func EventSchemaID(file string) string {
	return EventSchemaIDPrefix + strings.TrimSuffix(file, ".json")
}

// EventSchemaFile returns the file in events/ ("experiment.concluded.v1.json")
// that a dataschema or $ref names, the current name or the legacy address
// alike, and whether there is such a file.
func EventSchemaFile(uri string) (string, bool) {
	var file string
	if name, ok := strings.CutPrefix(uri, EventSchemaIDPrefix); ok {
		file = name + ".json"
	} else if name, ok := strings.CutPrefix(uri, LegacyEventSchemaBase); ok {
		file = name
	} else {
		return "", false
	}
	if !fs.ValidPath(file) || strings.Contains(file, "/") {
		return "", false
	}
	if _, err := fs.Stat(Events, "events/"+file); err != nil {
		return "", false
	}
	return file, true
}
