package main

import (
	"runtime/debug"
	"testing"
)

// TestGCDefault checks that the node's collector default applies only
// when the environment sets no GOGC of its own.
func TestGCDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		gogc string
		want int // the percent in force afterwards
	}{
		{"unset", "", defaultGCPercent},
		{"set by the operator", "50", 50},
		{"off by the operator", "off", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// What the runtime would have read from a GOGC set at start.
			start := 100
			switch tc.gogc {
			case "50":
				start = 50
			case "off":
				start = -1
			}
			old := debug.SetGCPercent(start)
			t.Cleanup(func() { debug.SetGCPercent(old) })
			applied := setGCDefault(func(k string) string {
				if k == "GOGC" {
					return tc.gogc
				}
				return ""
			})
			if got := debug.SetGCPercent(start); got != tc.want {
				t.Errorf("GC percent %d after setGCDefault (applied %d), want %d", got, applied, tc.want)
			}
		})
	}
}
