// Package api owns a node's HTTP edge: the JSON routes of the classic
// teaching chain (/chain, /mine, /create-transaction, /register-node,
// /sync-chain) and gossipchain's own, server-sent events and the explorer
// page.
//
// Done so far: GET /chain[?from=I&limit=N], POST /create-transaction,
// GET|POST /mine, GET /block/{index or hash}, GET /transaction/{id},
// GET /balance/{address}, GET /mempool, GET /sync-chain. New builds the
// handler over the narrow Node interface; Server wraps it with timeouts.
//
// Every error is {"error": "..."}. Handlers return errors; toError turns
// them into the one *Error type (chain rule codes and mempool refusals
// included) and status maps its code to the HTTP status: 400 bad input or
// a broken rule, 404 unknown route or id, 405 wrong method, 409 a clash
// with current state (duplicate, nonce, balance), 413 a body over 1 MiB,
// 429 a sender's pending limit, 503 not now (mempool full, tip moving,
// shutting down), 500 only for our own faults, logged with their cause.
package api
