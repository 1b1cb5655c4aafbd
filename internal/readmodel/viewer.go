package readmodel

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/failforward/failforward/internal/experiments"
)

// Viewer is who a query answers for. An experiment with visibility "team"
// is visible only when All is set or its team is one of Teams; every query
// leaves invisible experiments out as if they did not exist. ViewerOf
// derives it from the domain's Principal, whose CanSee is the rule; the
// SQL of visible is that rule spelled for the read models.
type Viewer struct {
	// All is set for leads and admins, and for the local admin of an
	// unauthenticated loopback server.
	All bool
	// Teams are the viewer's own teams.
	Teams []string
}

// ViewerOf returns what p may see. A nil principal is the unrestricted
// local admin.
func ViewerOf(p *experiments.Principal) Viewer {
	if p.SeesEverything() {
		return Viewer{All: true}
	}
	return Viewer{Teams: slices.Clone(p.Teams)}
}

// visible returns an SQL condition on the experiments table aliased alias
// that holds for the experiments v may see, with its arguments: the rows
// for which experiments.Principal.CanSee holds.
func (v Viewer) visible(alias string) (string, []any) {
	if v.All {
		return "1 = 1", nil
	}
	if len(v.Teams) == 0 {
		return alias + ".visibility <> ?", []any{experiments.VisibilityTeam}
	}
	return "(" + alias + ".visibility <> ? OR " + alias + ".team IN (" + placeholders(len(v.Teams)) + "))",
		append([]any{experiments.VisibilityTeam}, anys(v.Teams)...)
}

// ExperimentAccess is what deciding who may see an experiment takes: its
// team and its visibility, as the read models last applied them.
type ExperimentAccess struct {
	ID         string `db:"id"`
	Team       string `db:"team"`
	Visibility string `db:"visibility"`
}

// Access returns the team and visibility of those of ids that are
// experiments in the read models, by id; an id it does not know is not in
// the map. It is for deciding visibility outside a query, such as on the
// event stream, with Principal.CanSee.
func (q *Queries) Access(ctx context.Context, ids []string) (map[string]ExperimentAccess, error) {
	out := map[string]ExperimentAccess{}
	if len(ids) == 0 {
		return out, nil
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	rows, err := selectIn[ExperimentAccess](ctx, q.db, "SELECT id, team, visibility FROM experiments WHERE id IN (%s)", ids)
	if err != nil {
		return nil, fmt.Errorf("read visibility of experiments: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = r
	}
	return out, nil
}

// BuildsOn returns the builds_on ids of an experiment registration's
// data; none when it has none or does not decode.
func BuildsOn(data []byte) []string {
	var p struct {
		BuildsOn []string `json:"builds_on"`
	}
	if json.Unmarshal(data, &p) != nil {
		return nil
	}
	return p.BuildsOn
}

// RedactBuildsOn returns a registration's data without the builds_on ids
// for which keep is false: naming an experiment the reader may not see
// would tell that it exists. Data that loses no id is returned as it was
// written, byte for byte. Every reader of raw event data (an aggregate's
// history, the event stream) redacts with it.
func RedactBuildsOn(data []byte, keep func(id string) bool) ([]byte, error) {
	ids := BuildsOn(data)
	kept := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !keep(id) })
	if len(kept) == len(ids) {
		return data, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, fmt.Errorf("redact builds_on: %w", err)
	}
	fields["builds_on"], _ = json.Marshal(nonNil(kept))
	return json.Marshal(fields)
}
