package chain

import (
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Params are the rules of one network. A network is named by its genesis
// block: two nodes with different genesis hashes never talk. Build Params
// with NewParams (or take one of the predefined networks) so the genesis
// and network id are computed once.
type Params struct {
	// Name is the human name, used in the data directory and in logs.
	Name string
	// Signed selects the rules for transactions: true for ed25519-signed
	// account transfers with nonces and balances that never go negative;
	// false for the teaching chain's rules (any sender name, no signature,
	// no nonce order, no balance check).
	Signed bool
	// PowLimit is the easiest target allowed, and the genesis target.
	PowLimit *big.Int
	// TargetSpacing is the block time the difficulty steers toward.
	TargetSpacing time.Duration
	// RetargetInterval is how many blocks share one target; the target
	// changes at heights that are multiples of it.
	RetargetInterval uint64
	// MaxRetargetFactor bounds one retarget step: the target moves by at
	// most this factor up or down.
	MaxRetargetFactor int64
	// NoRetarget keeps every target at PowLimit (regtest only).
	NoRetarget bool
	// Reward is the coinbase amount before fees.
	Reward uint64
	// MedianTimeBlocks is how many ancestors' timestamps a new block's
	// timestamp must be above the median of.
	MedianTimeBlocks int
	// MaxFutureDrift is how far ahead of the local clock a timestamp may
	// be. On retargeting networks it may be at most the retarget window
	// over FutureDriftDivisor.
	MaxFutureDrift time.Duration
	// GenesisTime is the genesis timestamp in Unix milliseconds.
	GenesisTime int64
	// GenesisNonce makes the genesis hash meet PowLimit.
	GenesisNonce uint64
	// RelayFeeFloor is the network's minimum relay fee (protocol.md §11.7
	// rule 5): a transaction paying less for its size is worthless on
	// every node of the network, so a peer that relays one breaks the
	// relay rules and pays for it, where a fee merely below one node's
	// own higher minimum is that node's policy. Zero on unsigned
	// networks, whose fees are not backed by balances. Not consensus: a
	// block may still carry a transaction below it.
	RelayFeeFloor FeeRate

	genesis *Block
	id      Hash
	limit   [HashSize]byte
}

// NewParams completes p: it builds the genesis block and network id. It
// panics on parameters no network could run on: they come from code, never
// from input.
func NewParams(p Params) *Params {
	switch {
	case p.PowLimit == nil || p.PowLimit.Sign() <= 0 || p.PowLimit.BitLen() > 256:
		panic("chain: PowLimit must be a positive 256-bit number")
	case !p.NoRetarget && (p.RetargetInterval == 0 || p.TargetSpacing < time.Millisecond || p.MaxRetargetFactor < 1):
		panic("chain: retargeting needs RetargetInterval > 0, TargetSpacing >= 1ms, MaxRetargetFactor >= 1")
	case p.MedianTimeBlocks < 1:
		panic("chain: MedianTimeBlocks must be at least 1")
	case p.Reward == 0 || p.Reward > MaxAmount:
		panic("chain: Reward must be 1 to MaxAmount")
	case p.MaxFutureDrift < 0 || !p.NoRetarget && p.MaxFutureDrift > p.retargetWindow()/FutureDriftDivisor:
		panic("chain: MaxFutureDrift must be 0 to RetargetInterval*TargetSpacing/FutureDriftDivisor")
	case !p.Signed && p.RelayFeeFloor != 0:
		panic("chain: an unsigned network has no RelayFeeFloor")
	}
	p.genesis = p.buildGenesis()
	p.id = p.genesis.Hash()
	p.limit = TargetBytes(p.PowLimit)
	return &p
}

// FutureDriftDivisor bounds MaxFutureDrift on retargeting networks to this
// share of the retarget window (RetargetInterval × TargetSpacing).
//
// The retarget measures a window from the timestamp of its last block, so
// the miner of that block can date it up to MaxFutureDrift ahead and make
// the next window's target easier by (window + drift) / window. The window
// after measures from that same timestamp and pays the skew back, but only
// while window − drift stays above window / MaxRetargetFactor; beyond that
// the clamp swallows the repayment and the skew is a gift. Bitcoin's 2 h
// against its two-week window is 0.6%; devnet's old 2 h against a 100 s
// window was 72 windows, enough for a 4× easier window never repaid. A
// tenth keeps one block's skew to 10% of one window's target, always
// repaid in the next, while still leaving honest clocks two block times
// (10 s on devnet) of disagreement; a block refused as too new is only
// delayed (ErrTimeTooNew is transient), never condemned.
const FutureDriftDivisor = 10

// retargetWindow is the time one retarget window should take.
func (p *Params) retargetWindow() time.Duration {
	return time.Duration(p.RetargetInterval) * p.TargetSpacing
}

func (p *Params) buildGenesis() *Block {
	cb := &Transaction{
		Version:   TxVersion,
		Sender:    CoinbaseSender,
		Recipient: "gossipchain " + p.Name + " genesis",
		Amount:    p.Reward,
	}
	return &Block{
		Header: Header{
			Version:    HeaderVersion,
			MerkleRoot: MerkleRoot([]Hash{cb.ID()}),
			Timestamp:  p.GenesisTime,
			Bits:       BigToCompact(p.PowLimit),
			Nonce:      p.GenesisNonce,
		},
		Transactions: []*Transaction{cb},
	}
}

// Genesis returns the genesis block. Callers must not modify it.
func (p *Params) Genesis() *Block { return p.genesis }

// NetworkID is the genesis hash. It is in every signed transaction's bytes
// and namespaces every topic and protocol id.
func (p *Params) NetworkID() Hash { return p.id }

// PowLimitBits is PowLimit in compact form.
func (p *Params) PowLimitBits() uint32 { return BigToCompact(p.PowLimit) }

// genesisTime is 2026-12-05 00:00:00 UTC, shared by the predefined networks.
// It moved from 2026-11-24 to 2026-12-04 when the small-order key rule and
// the future drift bound (FutureDriftDivisor) took effect, and to
// 2026-12-05 when signatures became ZIP-215-valid (so that batch and single
// verification agree): chains started under older rules have other
// genesis hashes, hence other network ids, and never meet these, so every
// rule holds from height 0 with no activation height.
const genesisTime = 1796428800000

// DevNet is the default network: signed transfers, a block every 5 s, and a
// starting target a fresh node meets in about a million hashes (a tenth of
// a second on one core of a current machine).
func DevNet() *Params {
	const (
		spacing  = 5 * time.Second
		interval = 20
	)
	return NewParams(Params{
		Name:              "devnet",
		Signed:            true,
		PowLimit:          new(big.Int).Lsh(bigOne, 236),
		TargetSpacing:     spacing,
		RetargetInterval:  interval,
		MaxRetargetFactor: 4,
		Reward:            50,
		MedianTimeBlocks:  11,
		MaxFutureDrift:    interval * spacing / FutureDriftDivisor, // 10 s
		GenesisTime:       genesisTime,
		GenesisNonce:      devnetGenesisNonce,
		RelayFeeFloor:     NetworkMinRelayFee,
	})
}

// OpenNet keeps the classic teaching chain's rules so its tutorial runs
// verbatim: any sender string, unsigned, no balance check. Proof of work
// and difficulty are devnet's.
func OpenNet() *Params {
	p := *DevNet()
	p.Name = "open"
	p.Signed = false
	p.RelayFeeFloor = 0 // the classic client sends no fee
	p.GenesisNonce = openGenesisNonce
	return NewParams(p)
}

// RegTest is for tests: signed transfers as on devnet, but a target so easy
// that about two hashes find a block and it never changes, so tests can
// mine thousands of blocks in a second.
func RegTest() *Params {
	p := *DevNet()
	p.Name = "regtest"
	p.PowLimit = new(big.Int).Lsh(bigOne, 255)
	p.NoRetarget = true
	p.GenesisNonce = regtestGenesisNonce
	return NewParams(p)
}

// Nonces that make each predefined genesis meet its PowLimit; pinned by
// TestGoldenGenesisMeetsPowLimit.
const (
	devnetGenesisNonce  = 977658
	openGenesisNonce    = 157588
	regtestGenesisNonce = 5
)

// NetworkNames lists the predefined networks.
func NetworkNames() []string { return []string{"devnet", "open", "regtest"} }

// ErrUnknownNetwork is returned by ParamsByName for a name it does not know.
var ErrUnknownNetwork = errors.New("unknown network")

// ParamsByName returns a predefined network.
func ParamsByName(name string) (*Params, error) {
	switch name {
	case "devnet":
		return DevNet(), nil
	case "open":
		return OpenNet(), nil
	case "regtest":
		return RegTest(), nil
	}
	return nil, fmt.Errorf("%w %q (have %v)", ErrUnknownNetwork, name, NetworkNames())
}
