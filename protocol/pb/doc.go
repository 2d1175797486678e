// Package pb holds the Go code protoc generates from sync.proto, the
// schema of the chain-sync stream protocol, and netmap.proto, that of the
// network-map protocol. Nothing here validates: a
// decoded message is only shaped right. Package protocol reads and writes
// these messages with length caps and converts them to chain types with
// every size, count and link checked; code outside protocol should not
// use pb messages without going through it.
//
// Regenerate after editing a .proto file with go generate; CI checks that the
// committed .pb.go files match (protoc 3.21.12 from Debian and
// protoc-gen-go v1.36.11, installed by .ci/run).
package pb

//go:generate protoc --go_out=. --go_opt=paths=source_relative sync.proto netmap.proto
