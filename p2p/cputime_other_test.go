//go:build !unix

package p2p_test

import "time"

// processCPU is not measured here: the CPU metric reads 0.
func processCPU() time.Duration { return 0 }
