//go:build race

package firehoseapi

// raceEnabled skips multi-megabyte happy-path checks under the race
// detector, which slows encoding/json's byte loops by an order of magnitude;
// the same paths run in every non-race test run.
const raceEnabled = true
