package protocol

import (
	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// Request and response envelopes. A server reads one Request, switches on
// its body and validates it with StatusFromPB, ValidateGetHeaders or
// ValidateGetBlocks; a client reads Responses with the FromResponse
// function of what it asked, which also turns an Error response into a
// *RemoteError.

// StatusRequest opens a status exchange with our Status.
func StatusRequest(s Status) *pb.Request {
	return &pb.Request{Body: &pb.Request_Status{Status: StatusToPB(s)}}
}

// GetHeadersRequest asks for headers.
func GetHeadersRequest(req GetHeaders) *pb.Request {
	return &pb.Request{Body: &pb.Request_GetHeaders{GetHeaders: GetHeadersToPB(req)}}
}

// GetBlocksRequest asks for blocks by hash.
func GetBlocksRequest(hashes []chain.Hash) *pb.Request {
	return &pb.Request{Body: &pb.Request_GetBlocks{GetBlocks: GetBlocksToPB(hashes)}}
}

// StatusResponse answers a status request with ours.
func StatusResponse(s Status) *pb.Response {
	return &pb.Response{Body: &pb.Response_Status{Status: StatusToPB(s)}}
}

// HeadersResponse answers GetHeaders.
func HeadersResponse(headers []chain.Header) *pb.Response {
	return &pb.Response{Body: &pb.Response_Headers{Headers: HeadersToPB(headers)}}
}

// BlockResponse is one message of the answer to GetBlocks.
func BlockResponse(b *chain.Block) *pb.Response { return EncodedBlockResponse(b.Encode()) }

// EncodedBlockResponse is BlockResponse for a block already encoded
// (chain.Block.Encode), as a store keeps it: the same message, byte for
// byte, without decoding and encoding the block again.
func EncodedBlockResponse(enc []byte) *pb.Response {
	return &pb.Response{Body: &pb.Response_Block{Block: &pb.Block{Block: enc}}}
}

// ErrorResponse refuses a request; see ErrorToPB.
func ErrorResponse(code ErrorCode, message string) *pb.Response {
	return &pb.Response{Body: &pb.Response_Error{Error: ErrorToPB(code, message)}}
}

// StatusFromResponse reads the answer to a status request.
func StatusFromResponse(m *pb.Response) (Status, error) {
	switch b := m.GetBody().(type) {
	case *pb.Response_Status:
		return StatusFromPB(b.Status)
	case *pb.Response_Error:
		return Status{}, remoteError(b.Error)
	default:
		return Status{}, unexpected(m, "status")
	}
}

// HeadersFromResponse reads the answer to req; see HeadersFromPB.
func HeadersFromResponse(m *pb.Response, req GetHeaders) ([]chain.Header, error) {
	switch b := m.GetBody().(type) {
	case *pb.Response_Headers:
		return HeadersFromPB(b.Headers, req)
	case *pb.Response_Error:
		return nil, remoteError(b.Error)
	default:
		return nil, unexpected(m, "headers")
	}
}

// BlockFromResponse reads one message of the answer to GetBlocks, which
// must be the block want: the server sends the blocks asked for in the
// order asked, stopping at the first it does not have, so the client reads
// at most as many as it asked for and checks the nth against the nth hash.
func BlockFromResponse(m *pb.Response, want chain.Hash) (*chain.Block, error) {
	switch b := m.GetBody().(type) {
	case *pb.Response_Block:
		blk, err := BlockFromPB(b.Block)
		if err != nil {
			return nil, err
		}
		if got := blk.Hash(); got != want {
			return nil, unrequested("block %s, asked for %s", got.Short(), want.Short())
		}
		return blk, nil
	case *pb.Response_Error:
		return nil, remoteError(b.Error)
	default:
		return nil, unexpected(m, "a block")
	}
}

// remoteError returns the *RemoteError of an Error response, or why the
// Error itself is malformed.
func remoteError(m *pb.Error) error {
	e, err := ErrorFromPB(m)
	if err != nil {
		return err
	}
	return e
}

func unexpected(m *pb.Response, want string) error {
	return unrequested("got %s, want %s", bodyName(m), want)
}

// bodyName names the kind of a response for error messages.
func bodyName(m *pb.Response) string {
	switch m.GetBody().(type) {
	case *pb.Response_Status:
		return "status"
	case *pb.Response_Headers:
		return "headers"
	case *pb.Response_Block:
		return "a block"
	case *pb.Response_Error:
		return "an error"
	default:
		return "an empty response"
	}
}
