package experiments_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
)

// The people of the story tests: who they are decides what they may do.
var (
	mia = &experiments.Principal{Name: "mia", Role: experiments.RoleMember, Teams: []string{"growth"}}
	moe = &experiments.Principal{Name: "moe", Role: experiments.RoleMember, Teams: []string{"growth", "core"}}
	cal = &experiments.Principal{Name: "cal", Role: experiments.RoleMember, Teams: []string{"core"}}
	gia = &experiments.Principal{Name: "gia", Role: experiments.RoleLead, Teams: []string{"growth"}}
	lee = &experiments.Principal{Name: "lee", Role: experiments.RoleLead, Teams: []string{"core"}}
	ada = &experiments.Principal{Name: "ada", Role: experiments.RoleAdmin}
	vic = &experiments.Principal{Name: "vic", Role: experiments.RoleViewer, Teams: []string{"growth"}}
	val = &experiments.Principal{Name: "val", Role: experiments.RoleViewer, Teams: []string{"core"}}
)

// as is the command metadata of p acting, as the HTTP layer builds it;
// nil is the unrestricted local user.
func as(p *experiments.Principal) experiments.Meta {
	if p == nil {
		return local
	}
	return experiments.Meta{Actor: p.Name, Principal: p}
}

// registerIn registers an experiment of team with visibility, as the
// unrestricted local user.
func registerIn(t *testing.T, svc *experiments.Service, team, visibility string) experiments.Experiment {
	t.Helper()
	e, err := svc.RegisterExperiment(context.Background(), local, experiments.RegisterExperiment{
		Team: team, Title: "t", Hypothesis: "h", Visibility: visibility,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// story is a valid publication about ids, for the author's only team.
func story(ids ...string) experiments.PublishStory {
	return experiments.PublishStory{
		Title: "We priced for ourselves", Tried: "annual plans only", WentWrong: "nobody bought",
		Learned: "ask customers first", Differently: "interview five customers", ExperimentIDs: ids,
	}
}

func publish(t *testing.T, svc *experiments.Service, p *experiments.Principal, cmd experiments.PublishStory) experiments.Story {
	t.Helper()
	s, err := svc.PublishStory(context.Background(), as(p), cmd)
	if err != nil {
		t.Fatalf("publish as %s: %v", p.Name, err)
	}
	return s
}

// wantField fails unless err is invalid on field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var e *experiments.Error
	if !errors.As(err, &e) || e.Code != experiments.CodeInvalid || e.Field != field {
		t.Fatalf("err = %v, want invalid %s", err, field)
	}
}

// lastSequence is the stream's last sequence.
func lastSequence(t *testing.T, store *events.Store) uint64 {
	t.Helper()
	last, err := store.LastSequence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return last
}

func TestPublishStory(t *testing.T) {
	ctx := context.Background()
	svc, _, clk := newService(t)
	x := registerIn(t, svc, "growth", experiments.VisibilityOrg)

	s := publish(t, svc, mia, story(x.ID))
	if s.Team != "growth" || s.Author != "mia" || s.AuthorRole != experiments.RoleMember || s.Visibility != experiments.VisibilityOrg ||
		s.Title != "We priced for ourselves" || s.Tried != "annual plans only" || s.WentWrong != "nobody bought" ||
		s.Learned != "ask customers first" || s.Differently != "interview five customers" ||
		len(s.ExperimentIDs) != 1 || s.ExperimentIDs[0] != x.ID || !s.PublishedAt.Equal(clk.now()) ||
		s.Version != 1 || s.Position != 2 || s.Retracted || s.Helped != 0 || !experiments.ValidID(s.ID) {
		t.Fatalf("published = %+v", s)
	}

	// Leads may publish for any team, and their role shows.
	led := story(x.ID)
	led.Team = "growth"
	if s := publish(t, svc, lee, led); s.Team != "growth" || s.AuthorRole != experiments.RoleLead {
		t.Fatalf("lead's story for another team = %+v", s)
	}
	// The unrestricted local user is an admin.
	if s := publish(t, svc, nil, led); s.AuthorRole != experiments.RoleAdmin {
		t.Fatalf("local user's story = %+v", s)
	}
	// An author of several teams names one.
	both := story(x.ID)
	both.Team = "core"
	if s := publish(t, svc, moe, both); s.Team != "core" {
		t.Fatalf("story for a named team = %+v", s)
	}

	forOther := story(x.ID)
	forOther.Team = "core"
	for _, c := range []struct {
		name string
		meta experiments.Meta
		cmd  experiments.PublishStory
		code experiments.Code
		want string // field, for invalid
	}{
		{"member for a team not theirs", as(mia), forOther, experiments.CodeForbidden, ""},
		{"viewer of the team", as(vic), story(x.ID), experiments.CodeForbidden, ""},
		{"member of several teams without a team", as(moe), story(x.ID), experiments.CodeInvalid, "team"},
		{"local user without a team", local, story(x.ID), experiments.CodeInvalid, "team"},
		{"lead of no team without a team", as(&experiments.Principal{Name: "l", Role: experiments.RoleLead}), story(x.ID), experiments.CodeInvalid, "team"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := svc.PublishStory(ctx, c.meta, c.cmd)
			if c.want != "" {
				wantField(t, err, c.want)
			}
			wantCode(t, err, c.code)
		})
	}
}

func TestPublishStoryValidation(t *testing.T) {
	ctx := context.Background()
	svc, store, _ := newService(t)
	x := registerIn(t, svc, "growth", experiments.VisibilityOrg)
	hidden := registerIn(t, svc, "core", experiments.VisibilityTeam)
	long := strings.Repeat("é", 10001)
	ids := make([]string, 21)
	for i := range ids {
		ids[i] = x.ID[:24] + string("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[i]) + "0"
	}
	with := func(change func(*experiments.PublishStory)) experiments.PublishStory {
		cmd := story(x.ID)
		change(&cmd)
		return cmd
	}
	before := lastSequence(t, store)
	for _, c := range []struct {
		name  string
		cmd   experiments.PublishStory
		field string
	}{
		{"missing title", with(func(c *experiments.PublishStory) { c.Title = "" }), "title"},
		{"blank title", with(func(c *experiments.PublishStory) { c.Title = " \t" }), "title"},
		{"long title", with(func(c *experiments.PublishStory) { c.Title = strings.Repeat("é", 201) }), "title"},
		{"missing learned", with(func(c *experiments.PublishStory) { c.Learned = "" }), "learned"},
		{"long learned", with(func(c *experiments.PublishStory) { c.Learned = long }), "learned"},
		{"long tried", with(func(c *experiments.PublishStory) { c.Tried = long }), "tried"},
		{"long went_wrong", with(func(c *experiments.PublishStory) { c.WentWrong = long }), "went_wrong"},
		{"long differently", with(func(c *experiments.PublishStory) { c.Differently = long }), "differently"},
		{"no experiments", with(func(c *experiments.PublishStory) { c.ExperimentIDs = nil }), "experiment_ids"},
		{"too many experiments", with(func(c *experiments.PublishStory) { c.ExperimentIDs = ids }), "experiment_ids"},
		{"an experiment twice", with(func(c *experiments.PublishStory) { c.ExperimentIDs = []string{x.ID, x.ID} }), "experiment_ids"},
		{"not an id", with(func(c *experiments.PublishStory) { c.ExperimentIDs = []string{"nope"} }), "experiment_ids"},
		{"unknown experiment", with(func(c *experiments.PublishStory) { c.ExperimentIDs = []string{x.ID, "01ARZ3NDEKTSV4RRFFQ69G5FAV"} }), "experiment_ids"},
		{"experiment the author cannot see", with(func(c *experiments.PublishStory) { c.ExperimentIDs = []string{hidden.ID} }), "experiment_ids"},
		{"bad visibility", with(func(c *experiments.PublishStory) { c.Visibility = "secret" }), "visibility"},
		{"bad team", with(func(c *experiments.PublishStory) { c.Team = "a b" }), "team"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := svc.PublishStory(ctx, as(mia), c.cmd)
			wantField(t, err, c.field)
		})
	}
	// The message of an experiment the author cannot see is the one of an
	// unknown experiment: a story reveals no experiment.
	_, unknown := svc.PublishStory(ctx, as(mia), with(func(c *experiments.PublishStory) { c.ExperimentIDs = []string{"01ARZ3NDEKTSV4RRFFQ69G5FAV"} }))
	_, invisible := svc.PublishStory(ctx, as(mia), with(func(c *experiments.PublishStory) { c.ExperimentIDs = []string{hidden.ID} }))
	if got, want := strings.ReplaceAll(invisible.Error(), hidden.ID, "X"), strings.ReplaceAll(unknown.Error(), "01ARZ3NDEKTSV4RRFFQ69G5FAV", "X"); got != want {
		t.Errorf("invisible experiment: %q, want it worded as an unknown one: %q", got, want)
	}
	if after := lastSequence(t, store); after != before {
		t.Fatalf("stream moved from %d to %d on refused stories", before, after)
	}
	// Twenty distinct experiments are fine; the cap is on more.
	many := make([]string, 20)
	for i := range many {
		many[i] = registerIn(t, svc, "growth", experiments.VisibilityOrg).ID
	}
	if s := publish(t, svc, mia, story(many...)); len(s.ExperimentIDs) != 20 {
		t.Fatalf("story about 20 experiments = %+v", s)
	}
}

func TestStoryVisibilityCapOnPublish(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t)
	open := registerIn(t, svc, "growth", experiments.VisibilityOrg)
	secret := registerIn(t, svc, "growth", experiments.VisibilityTeam)
	coreSecret := registerIn(t, svc, "core", experiments.VisibilityTeam)

	org := story(open.ID, secret.ID)
	org.Visibility = experiments.VisibilityOrg
	_, err := svc.PublishStory(ctx, as(mia), org)
	wantField(t, err, "visibility")
	if !strings.Contains(err.Error(), secret.ID) {
		t.Errorf("refusal %q does not name the confidential experiment", err)
	}

	// Left out, the visibility is the widest the experiments allow.
	if s := publish(t, svc, mia, story(open.ID, secret.ID)); s.Visibility != experiments.VisibilityTeam {
		t.Fatalf("story about a team-only experiment, visibility left out = %+v", s)
	}
	if s := publish(t, svc, mia, story(open.ID)); s.Visibility != experiments.VisibilityOrg {
		t.Fatalf("story about an org experiment, visibility left out = %+v", s)
	}
	team := story(secret.ID)
	team.Visibility = experiments.VisibilityTeam
	if s := publish(t, svc, mia, team); s.Visibility != experiments.VisibilityTeam || s.Team != "growth" {
		t.Fatalf("team story about a team-only experiment = %+v", s)
	}

	// A confidential experiment's story belongs to its team, even for
	// those who see every team.
	elsewhere := story(secret.ID)
	elsewhere.Team, elsewhere.Visibility = "core", experiments.VisibilityTeam
	_, err = svc.PublishStory(ctx, as(ada), elsewhere)
	wantField(t, err, "team")
	mixed := story(secret.ID, coreSecret.ID)
	mixed.Team = "growth"
	_, err = svc.PublishStory(ctx, local, mixed)
	wantField(t, err, "team")
}

func TestStoryVisibilityCapOnRevise(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t)
	open := registerIn(t, svc, "growth", experiments.VisibilityOrg)
	secret := registerIn(t, svc, "growth", experiments.VisibilityTeam)
	coreSecret := registerIn(t, svc, "core", experiments.VisibilityTeam)
	s := publish(t, svc, mia, story(open.ID))

	withSecret := []string{open.ID, secret.ID}
	_, err := svc.ReviseStory(ctx, as(mia), s.ID, experiments.ReviseStory{ExperimentIDs: &withSecret})
	wantField(t, err, "visibility")
	team := experiments.VisibilityTeam
	s, err = svc.ReviseStory(ctx, as(mia), s.ID, experiments.ReviseStory{ExperimentIDs: &withSecret, Visibility: &team})
	if err != nil || s.Visibility != team || len(s.ExperimentIDs) != 2 {
		t.Fatalf("revise to a team story about a team-only experiment = %+v, %v", s, err)
	}
	org := experiments.VisibilityOrg
	_, err = svc.ReviseStory(ctx, as(mia), s.ID, experiments.ReviseStory{Visibility: &org})
	wantField(t, err, "visibility")

	// The team is fixed, so a foreign confidential experiment is refused
	// on the list.
	withCore := []string{secret.ID, coreSecret.ID}
	_, err = svc.ReviseStory(ctx, as(ada), s.ID, experiments.ReviseStory{ExperimentIDs: &withCore})
	wantField(t, err, "experiment_ids")

	// An experiment that became team-only after the story linked it: the
	// next revision is refused until it narrows the story.
	planned := registerIn(t, svc, "growth", experiments.VisibilityOrg)
	later := publish(t, svc, mia, story(planned.ID))
	if _, err := svc.ReviseExperiment(ctx, local, planned.ID, experiments.ReviseExperiment{Visibility: &team}); err != nil {
		t.Fatal(err)
	}
	title := "A better title"
	_, err = svc.ReviseStory(ctx, as(mia), later.ID, experiments.ReviseStory{Title: &title})
	wantField(t, err, "visibility")
	if later, err = svc.ReviseStory(ctx, as(mia), later.ID, experiments.ReviseStory{Title: &title, Visibility: &team}); err != nil || later.Title != title {
		t.Fatalf("revise narrowing the story = %+v, %v", later, err)
	}
}

func TestStoryReadAccess(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t)
	secret := registerIn(t, svc, "growth", experiments.VisibilityTeam)
	open := registerIn(t, svc, "growth", experiments.VisibilityOrg)
	teamStory := publish(t, svc, mia, story(secret.ID))
	orgStory := publish(t, svc, mia, story(open.ID))

	for _, p := range []*experiments.Principal{mia, moe, vic, gia, lee, ada, nil} {
		if got, err := svc.Story(ctx, p, teamStory.ID); err != nil || got.ID != teamStory.ID || got.Title != teamStory.Title {
			t.Errorf("team story read by %v = %+v, %v", p, got, err)
		}
	}
	for _, p := range []*experiments.Principal{cal, val} {
		_, err := svc.Story(ctx, p, teamStory.ID)
		wantCode(t, err, experiments.CodeNotFound)
		if _, err := svc.Story(ctx, p, orgStory.ID); err != nil {
			t.Errorf("org story read by %s: %v", p.Name, err)
		}
		// Commands answer as if the story did not exist, too.
		_, err = svc.MarkStoryHelped(ctx, as(p), teamStory.ID)
		wantCode(t, err, experiments.CodeNotFound)
		_, err = svc.RetractStory(ctx, as(p), teamStory.ID, experiments.RetractStory{})
		wantCode(t, err, experiments.CodeNotFound)
	}
	for _, id := range []string{"not-an-id", "01ARZ3NDEKTSV4RRFFQ69G5FAV", open.ID} {
		_, err := svc.Story(ctx, ada, id)
		wantCode(t, err, experiments.CodeNotFound)
	}
}

func TestReviseStoryKeepsHistory(t *testing.T) {
	ctx := context.Background()
	svc, store, clk := newService(t)
	x := registerIn(t, svc, "growth", experiments.VisibilityOrg)
	y := registerIn(t, svc, "growth", experiments.VisibilityOrg)
	s := publish(t, svc, mia, story(x.ID))

	clk.add(5 * time.Minute)
	title, same := "We priced for us", s.Learned
	ids := []string{y.ID, x.ID}
	got, err := svc.ReviseStory(ctx, as(mia), s.ID, experiments.ReviseStory{Title: &title, Learned: &same, ExperimentIDs: &ids})
	if err != nil || got.Title != title || got.Learned != s.Learned || got.ExperimentIDs[0] != y.ID || got.Version != 2 ||
		got.RevisedAt == nil || !got.RevisedAt.Equal(clk.now()) || !got.PublishedAt.Equal(s.PublishedAt) {
		t.Fatalf("revised = %+v, %v", got, err)
	}
	recs, err := store.Load(ctx, events.AggregateStory, s.ID)
	if err != nil || len(recs) != 2 {
		t.Fatalf("history = %d events, %v; want 2", len(recs), err)
	}
	if name, p, _ := events.Payload(&recs[0].Envelope); name != events.StoryPublished || p.(*events.StoryPublishedV1).Title != s.Title {
		t.Errorf("first event = %s %+v, want the publication with the first title", name, p)
	}
	// Only what changed: the learned text was sent with its old value.
	if want := `{"title":"We priced for us","experiment_ids":["` + y.ID + `","` + x.ID + `"]}`; string(recs[1].Data) != want {
		t.Errorf("revision data = %s, want %s", recs[1].Data, want)
	}
	if recs[1].Actor != "mia" || recs[1].Team != "growth" {
		t.Errorf("revision actor %q team %q", recs[1].Actor, recs[1].Team)
	}

	before := lastSequence(t, store)
	if again, err := svc.ReviseStory(ctx, as(mia), s.ID, experiments.ReviseStory{Title: &title}); err != nil || again.Version != 2 {
		t.Fatalf("revision that changes nothing = %+v, %v", again, err)
	}
	_, err = svc.ReviseStory(ctx, as(mia), s.ID, experiments.ReviseStory{})
	wantField(t, err, "")
	blank, long := "", strings.Repeat("x", 10001)
	_, err = svc.ReviseStory(ctx, as(mia), s.ID, experiments.ReviseStory{Learned: &blank})
	wantField(t, err, "learned")
	_, err = svc.ReviseStory(ctx, as(mia), s.ID, experiments.ReviseStory{WentWrong: &long})
	wantField(t, err, "went_wrong")
	unknown := []string{"01ARZ3NDEKTSV4RRFFQ69G5FAV"}
	_, err = svc.ReviseStory(ctx, as(mia), s.ID, experiments.ReviseStory{ExperimentIDs: &unknown})
	wantField(t, err, "experiment_ids")
	if after := lastSequence(t, store); after != before {
		t.Fatalf("stream moved from %d to %d on revisions that wrote nothing", before, after)
	}

	// The author or an admin; not a teammate, a lead, or the author as a viewer.
	other := "Not yours"
	for _, p := range []*experiments.Principal{moe, gia, vic, {Name: "mia", Role: experiments.RoleViewer, Teams: []string{"growth"}}} {
		_, err := svc.ReviseStory(ctx, as(p), s.ID, experiments.ReviseStory{Title: &other})
		wantCode(t, err, experiments.CodeForbidden)
	}
	by := "Revised by an admin"
	if got, err := svc.ReviseStory(ctx, as(ada), s.ID, experiments.ReviseStory{Title: &by}); err != nil || got.Title != by || got.Author != "mia" {
		t.Fatalf("admin's revision = %+v, %v", got, err)
	}
}

func TestRetractStory(t *testing.T) {
	ctx := context.Background()
	svc, store, clk := newService(t)
	x := registerIn(t, svc, "growth", experiments.VisibilityOrg)

	s := publish(t, svc, mia, story(x.ID))
	// Not a teammate, a lead of another team or a viewer.
	for _, p := range []*experiments.Principal{moe, lee, vic} {
		_, err := svc.RetractStory(ctx, as(p), s.ID, experiments.RetractStory{})
		wantCode(t, err, experiments.CodeForbidden)
	}
	_, err := svc.RetractStory(ctx, as(mia), s.ID, experiments.RetractStory{Reason: strings.Repeat("x", 10001)})
	wantField(t, err, "reason")

	clk.add(time.Hour)
	got, err := svc.RetractStory(ctx, as(gia), s.ID, experiments.RetractStory{Reason: "shared by mistake"})
	if err != nil || !got.Retracted || got.RetractedAt == nil || !got.RetractedAt.Equal(clk.now()) ||
		got.RetractReason != "shared by mistake" || got.Version != 2 {
		t.Fatalf("retracted by a lead of the team = %+v, %v", got, err)
	}
	// Still in the stream, and still readable as retracted.
	if read, err := svc.Story(ctx, mia, s.ID); err != nil || !read.Retracted {
		t.Fatalf("retracted story read = %+v, %v", read, err)
	}
	before := lastSequence(t, store)
	title := "after"
	_, err = svc.ReviseStory(ctx, as(mia), s.ID, experiments.ReviseStory{Title: &title})
	wantCode(t, err, experiments.CodeConflict)
	_, err = svc.RetractStory(ctx, as(mia), s.ID, experiments.RetractStory{})
	wantCode(t, err, experiments.CodeConflict)
	_, err = svc.MarkStoryHelped(ctx, as(vic), s.ID)
	wantCode(t, err, experiments.CodeConflict)
	// A second service, with nothing cached, decides the same from history.
	other, err := experiments.NewService(experiments.ServiceConfig{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.RetractStory(ctx, as(ada), s.ID, experiments.RetractStory{})
	wantCode(t, err, experiments.CodeConflict)
	if after := lastSequence(t, store); after != before {
		t.Fatalf("stream moved from %d to %d on commands to a retracted story", before, after)
	}

	for _, p := range []*experiments.Principal{mia, ada} {
		s := publish(t, svc, mia, story(x.ID))
		if got, err := svc.RetractStory(ctx, as(p), s.ID, experiments.RetractStory{}); err != nil || !got.Retracted {
			t.Fatalf("retracted by %s = %+v, %v", p.Name, got, err)
		}
	}
}

func TestMarkStoryHelped(t *testing.T) {
	ctx := context.Background()
	svc, store, _ := newService(t)
	secret := registerIn(t, svc, "growth", experiments.VisibilityTeam)
	s := publish(t, svc, gia, story(secret.ID))

	got, err := svc.MarkStoryHelped(ctx, as(vic), s.ID)
	if err != nil || got.Helped != 1 || !got.HelpedActor("vic") || got.Version != 2 {
		t.Fatalf("first mark = %+v, %v", got, err)
	}
	// A second mark by the same reader writes nothing, here and in a
	// service that has nothing cached.
	before := lastSequence(t, store)
	other, err := experiments.NewService(experiments.ServiceConfig{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []*experiments.Service{svc, other} {
		again, err := svc.MarkStoryHelped(ctx, as(vic), s.ID)
		if err != nil || again.Helped != 1 || again.Version != 2 {
			t.Fatalf("second mark = %+v, %v; want the story as it was", again, err)
		}
	}
	if after := lastSequence(t, store); after != before {
		t.Fatalf("stream moved from %d to %d on a second mark", before, after)
	}

	if got, err = svc.MarkStoryHelped(ctx, as(lee), s.ID); err != nil || got.Helped != 2 || got.Version != 3 {
		t.Fatalf("another reader's mark = %+v, %v", got, err)
	}
	_, err = svc.MarkStoryHelped(ctx, as(gia), s.ID)
	wantCode(t, err, experiments.CodeForbidden)
	_, err = svc.MarkStoryHelped(ctx, as(val), s.ID)
	wantCode(t, err, experiments.CodeNotFound)

	recs, err := store.Load(ctx, events.AggregateStory, s.ID)
	if err != nil || len(recs) != 3 || recs[1].Actor != "vic" || recs[2].Actor != "lee" || string(recs[1].Data) != "{}" {
		t.Fatalf("history = %+v, %v; want a publication and one mark per reader, the reader as actor", recs, err)
	}
}

func TestPublishStoryIsIdempotent(t *testing.T) {
	ctx := context.Background()
	svc, store, _ := newService(t)
	x := registerIn(t, svc, "growth", experiments.VisibilityOrg)
	meta := as(mia)
	meta.IdempotencyKey = "story-1"
	first, err := svc.PublishStory(ctx, meta, story(x.ID))
	if err != nil {
		t.Fatal(err)
	}
	again, err := svc.PublishStory(ctx, meta, story(x.ID))
	if err != nil || again.ID != first.ID || again.Version != 1 {
		t.Fatalf("retried publication = %+v, %v; want the first story", again, err)
	}
	if last := lastSequence(t, store); last != 2 {
		t.Fatalf("stream has %d events, want 2", last)
	}
	stale := uint64(0)
	title := "t"
	_, err = svc.ReviseStory(ctx, experiments.Meta{Actor: "mia", Principal: mia, IfMatch: &stale}, first.ID, experiments.ReviseStory{Title: &title})
	wantCode(t, err, experiments.CodePrecondition)
}

// TestStoryReadAfterAnotherProcessNarrowedIt runs two services over one
// stream, as two api processes would: once one narrows a story to its
// team, the other no longer shows it outside the team, though it had the
// story cached as org.
func TestStoryReadAfterAnotherProcessNarrowedIt(t *testing.T) {
	ctx := context.Background()
	one, store, _ := newService(t)
	two, err := experiments.NewService(experiments.ServiceConfig{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	x := registerIn(t, one, "growth", experiments.VisibilityOrg)
	s := publish(t, two, mia, story(x.ID))
	if _, err := two.Story(ctx, cal, s.ID); err != nil {
		t.Fatalf("org story read outside its team: %v", err)
	}
	team := experiments.VisibilityTeam
	if _, err := one.ReviseStory(ctx, as(mia), s.ID, experiments.ReviseStory{Visibility: &team}); err != nil {
		t.Fatal(err)
	}
	_, err = two.Story(ctx, cal, s.ID)
	wantCode(t, err, experiments.CodeNotFound)
}
