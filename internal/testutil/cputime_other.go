//go:build !unix

package testutil

import "time"

// ProcessCPU is not measured here: it returns 0, and CPU metrics read 0.
func ProcessCPU() time.Duration { return 0 }
