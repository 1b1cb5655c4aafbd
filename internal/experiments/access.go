package experiments

import (
	"fmt"
	"slices"
)

// Role is what a principal may do.
type Role string

// The roles, from least to most trusted.
const (
	// RoleViewer reads what it may see.
	RoleViewer Role = "viewer"
	// RoleMember reads, and writes experiments and innovations of its own
	// teams; it may link its team's innovation to any team's experiment.
	RoleMember Role = "member"
	// RoleLead reads everything, including team-only experiments, and
	// writes innovations for any team and experiments of its own teams.
	RoleLead Role = "lead"
	// RoleAdmin does everything.
	RoleAdmin Role = "admin"
)

// Roles lists every role.
var Roles = []Role{RoleViewer, RoleMember, RoleLead, RoleAdmin}

// Principal is who acts: a named token with a role and teams.
type Principal struct {
	Name  string
	Role  Role
	Teams []string
}

// SeesEverything reports whether the principal sees team-only
// experiments of every team.
func (p *Principal) SeesEverything() bool {
	return p == nil || p.Role == RoleLead || p.Role == RoleAdmin
}

// InTeam reports whether the principal belongs to team.
func (p *Principal) InTeam(team string) bool {
	return p != nil && slices.Contains(p.Teams, team)
}

// CanSee reports whether the principal may see an experiment of team with
// visibility. A nil principal is the unrestricted local user.
func (p *Principal) CanSee(team, visibility string) bool {
	return visibility != VisibilityTeam || p.SeesEverything() || p.InTeam(team)
}

// CanWriteExperiment reports whether the principal may write experiments
// of team.
func (p *Principal) CanWriteExperiment(team string) bool {
	switch {
	case p == nil || p.Role == RoleAdmin:
		return true
	case p.Role == RoleMember || p.Role == RoleLead:
		return p.InTeam(team)
	}
	return false
}

// CanWriteInnovation reports whether the principal may record or link
// innovations of team.
func (p *Principal) CanWriteInnovation(team string) bool {
	switch {
	case p == nil || p.Role == RoleAdmin || p.Role == RoleLead:
		return true
	case p.Role == RoleMember:
		return p.InTeam(team)
	}
	return false
}

func forbidden(format string, args ...any) error {
	return &Error{Code: CodeForbidden, Message: fmt.Sprintf(format, args...)}
}

func (a *experimentAggregate) authorize(p *Principal) error {
	if !p.CanSee(a.state.Team, a.state.Visibility) {
		return notFound("experiment", a.state.ID)
	}
	if !p.CanWriteExperiment(a.state.Team) {
		return forbidden("%s may not change experiments of team %s", p.Name, a.state.Team)
	}
	return nil
}

func (a *innovationAggregate) authorize(p *Principal) error {
	if !p.CanWriteInnovation(a.state.Team) {
		return forbidden("%s may not change innovations of team %s", p.Name, a.state.Team)
	}
	return nil
}
