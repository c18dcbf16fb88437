//go:build !unix

package partition

import "time"

func processCPUTime() (time.Duration, bool) { return 0, false }
