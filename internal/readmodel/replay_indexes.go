package readmodel

// ReplayIndexes names the secondary indexes that ApplyBatch looks rows up
// by, beside the tables' keys: the builds_on edges by their upstream end
// (experiment_edges_upstream), and an experiment's innovation links and
// learnings (innovation_links_experiment, learnings_experiment), which
// the failure feeds and the dashboard figures read. A rebuild keeps these
// while it replays and builds the other indexes once, at its swap; a
// lookup added to the projection by any other column must add its index
// here, or a rebuild reads the whole table for it in every batch.
func (p *Projection) ReplayIndexes() []string {
	return []string{"experiment_edges_upstream", "innovation_links_experiment", "learnings_experiment"}
}
