// Package correlations is the correlation index as a projection: for each
// event of $all whose metadata has a correlation_id, where it is (its
// position, stream and version) and its type. It serves
// eventstore.Filter's correlation_id for a store that indexes no value
// inside an event's metadata (KurrentDB): the events are then read back
// from their streams. The embedded store has this index in its own file
// and does not run the projection.
package correlations
