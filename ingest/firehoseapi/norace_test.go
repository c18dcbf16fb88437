//go:build !race

package firehoseapi

const raceEnabled = false
