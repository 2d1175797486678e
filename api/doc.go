// Package api owns a node's HTTP edge: the JSON routes of the classic
// teaching chain (/chain, /mine, /create-transaction, /register-node,
// /sync-chain) and gossipchain's own (/status, /peers, /block/{id},
// /transaction/{id}, /balance/{address}, /mempool), Prometheus metrics
// (/metrics), server-sent events (/events) and the explorer page (/).
// New builds the handler over the narrow Node interface; Server wraps it
// with timeouts.
//
// Every error is {"error": "..."}. Handlers return errors; toError turns
// them into the one *Error type (chain rule codes and mempool refusals
// included) and status maps its code to the HTTP status: 400 bad input or
// a broken rule, 401 a state-changing route without the API token, 404
// unknown route or id, 405 wrong method, 409 a clash with current state
// (duplicate, nonce, balance), 413 a body over 1 MiB, 429 a sender's
// pending limit, 502 another node or peer a request needed did not
// answer, 503 not now (mempool full, tip moving, shutting down), 500 only
// for our own faults, logged with their cause.
package api
