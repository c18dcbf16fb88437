//go:build !unix

package parquet

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
