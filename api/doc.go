// Package api owns a node's HTTP edge: the JSON routes of the classic
// teaching chain (/chain, /mine, /create-transaction, /register-node,
// /sync-chain) and gossipchain's own, server-sent events and the explorer
// page.
package api
