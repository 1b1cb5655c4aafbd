// Package chaostest holds the chaos test of the production topology: a
// three-node NATS cluster, Postgres, two api processes and the projectors,
// all real processes, under a write load while the test kills the stream
// leader's node, the active projector and Postgres. Its test checks that
// every acknowledged command is in the read models exactly once, that the
// read models equal a fresh replay of the stream, and that no fault was
// ever answered with a 500. The package has no code of its own.
package chaostest
