package chain

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gossipchain/gossipchain/internal/strictjson"
)

// Field readers for the strict JSON decoders in json.go: each takes the raw
// text of one member and refuses anything but the one form it accepts.

// jsonObject reads one JSON object, handing the raw text of each member
// to the slot field returns for its name (see strictjson.Object), and says
// what is wrong in chain's words, wrapping ErrMalformed.
func jsonObject(data []byte, what string, field func(string) *json.RawMessage) error {
	err := strictjson.Object(data, field)
	var se *strictjson.Error
	if !errors.As(err, &se) {
		return err
	}
	if se.Kind == strictjson.NotObject {
		return jsonMalformed("%s must be a JSON object", what)
	}
	return jsonMalformed("%s: %v", what, se)
}

// jsonAbsent reports whether an optional member was left out or null.
func jsonAbsent(raw json.RawMessage) bool { return raw == nil || string(raw) == "null" }

// jsonUint reads a JSON integer: digits only, no sign, fraction, exponent
// or quotes, at most max. encoding/json's Number would take "12" (a
// string) as well, which is why the raw text is read here.
func jsonUint(raw json.RawMessage, field string, max uint64) (uint64, error) {
	if len(raw) == 0 || !jsonDigits(raw) {
		return 0, jsonMalformed("%s must be a non-negative integer without fraction or exponent, got %s", field, jsonShorten(string(raw)))
	}
	v, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil || v > max {
		return 0, jsonMalformed("%s %s exceeds %d", field, jsonShorten(string(raw)), max)
	}
	return v, nil
}

func jsonDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// jsonFloat reads a JSON number as the nearest float64.
func jsonFloat(raw json.RawMessage, field string) (float64, error) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, jsonMalformed("%s must be a number, got %s", field, jsonShorten(string(raw)))
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, jsonMalformed("%s %s is out of range", field, jsonShorten(string(raw)))
	}
	return f, nil
}

// jsonString reads a JSON string that is valid UTF-8 and has no lone
// surrogate escape.
func jsonString(raw json.RawMessage, field string) (string, error) {
	b, err := jsonStringBytes(raw, field)
	return string(b), err
}

// jsonStringBytes is jsonString's text as bytes, which alias raw when the
// literal has no escape (every member of a posted transaction): its hex
// fields are then decoded without a copy. Only literals with an escape go
// through encoding/json's decoder, which was half the time of decoding a
// posted transaction (docs/benchmarks.md).
func jsonStringBytes(raw json.RawMessage, field string) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' {
		return nil, jsonMalformed("%s must be a string", field)
	}
	if !utf8.Valid(raw) || !jsonPairedSurrogates(raw) {
		return nil, jsonMalformed("%s is not valid UTF-8", field)
	}
	if text, ok := jsonPlainString(raw); ok {
		return text, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, jsonMalformed("%s: %v", field, err)
	}
	return []byte(s), nil
}

// jsonPlainString returns the text between the quotes of a string literal
// with no escape and no control character, which is what encoding/json
// decodes such a literal to when it is valid UTF-8; ok is false for any
// other raw, which encoding/json then judges.
func jsonPlainString(raw []byte) (text []byte, ok bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	text = raw[1 : len(raw)-1]
	for _, c := range text {
		if c < 0x20 || c == '"' || c == '\\' {
			return nil, false
		}
	}
	return text, true
}

// jsonPairedSurrogates reports whether every \u escape of a UTF-16 surrogate in
// the JSON string literal lit is a high one followed by a low one, so the
// string decodes without U+FFFD replacements.
func jsonPairedSurrogates(lit []byte) bool {
	for i := 0; i < len(lit); i++ {
		if lit[i] != '\\' {
			continue
		}
		i++
		r, ok := jsonEscapedUnit(lit, i)
		if !ok {
			continue // \\, \", \n and the like; i is on the escaped byte
		}
		i += 4
		switch {
		case r >= 0xdc00 && r <= 0xdfff:
			return false
		case r >= 0xd800 && r <= 0xdbff:
			lo, ok := jsonEscapedUnit(lit, i+2)
			if i+1 >= len(lit) || lit[i+1] != '\\' || !ok || lo < 0xdc00 || lo > 0xdfff {
				return false
			}
			i += 6
		}
	}
	return true
}

// jsonEscapedUnit reads the code unit of "uXXXX" at lit[i:].
func jsonEscapedUnit(lit []byte, i int) (rune, bool) {
	if i < 0 || i+5 > len(lit) || lit[i] != 'u' {
		return 0, false
	}
	v, err := strconv.ParseUint(string(lit[i+1:i+5]), 16, 16)
	return rune(v), err == nil
}

// jsonName reads a sender or recipient: a string of 1 to MaxNameLen bytes.
// Empty names are refused here although the binary encoding carries them:
// no valid transaction has one, and DecodeBlock's count bound assumes
// names of at least a byte.
func jsonName(raw json.RawMessage, field string) (string, error) {
	if raw == nil {
		return "", jsonMalformed("%s is missing", field)
	}
	s, err := jsonString(raw, field)
	if err != nil {
		return "", err
	}
	if s == "" || len(s) > MaxNameLen {
		return "", jsonMalformed("%s must be 1 to %d bytes, got %d", field, MaxNameLen, len(s))
	}
	return s, nil
}

// jsonHexBytes reads an optional hex field of exactly size bytes; absent,
// null and "" give nil.
func jsonHexBytes(raw json.RawMessage, field string, size int) ([]byte, error) {
	if jsonAbsent(raw) {
		return nil, nil
	}
	s, err := jsonStringBytes(raw, field)
	if err != nil || len(s) == 0 {
		return nil, err
	}
	if len(s) != 2*size {
		return nil, jsonMalformed("%s must be %d hex digits (%d bytes), got %d characters", field, 2*size, size, len(s))
	}
	b := make([]byte, size)
	if _, err := hex.Decode(b, s); err != nil {
		return nil, jsonMalformed("%s is not hex: %v", field, err)
	}
	return b, nil
}

// jsonHash reads 64 hex digits.
func jsonHash(raw json.RawMessage, field string) (Hash, error) {
	s, err := jsonStringBytes(raw, field)
	if err != nil {
		return Hash{}, err
	}
	h, err := parseHash(s)
	if err != nil {
		return Hash{}, jsonMalformed("%s: %v", field, err)
	}
	return h, nil
}

// jsonSeconds writes Unix milliseconds as decimal seconds with no trailing
// zeros: 1795478400123 → "1795478400.123", 1795478400000 → "1795478400".
func jsonSeconds(ms int64) string {
	u := uint64(ms)
	sign := ""
	if ms < 0 {
		u, sign = -u, "-"
	}
	s := sign + strconv.FormatUint(u/1000, 10)
	if frac := u % 1000; frac != 0 {
		f := strconv.FormatUint(1000+frac, 10)[1:] // three digits
		s += "." + strings.TrimRight(f, "0")
	}
	return s
}

// jsonMillis reads a JSON number of seconds as milliseconds, rounded to the
// nearest (halves away from zero). It works on the decimal text rather than
// a float64, so every int64 millisecond value survives a round trip and a
// huge exponent costs nothing.
func jsonMillis(raw json.RawMessage, field string) (int64, error) {
	bad := func() (int64, error) {
		return 0, jsonMalformed("%s must be a number of seconds, got %s", field, jsonShorten(string(raw)))
	}
	outOfRange := func() (int64, error) {
		return 0, jsonMalformed("%s %s is out of range", field, jsonShorten(string(raw)))
	}
	s := string(raw)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, expText, hasExp := strings.Cut(s, "e")
	if !hasExp {
		mant, expText, hasExp = strings.Cut(s, "E")
	}
	whole, frac, hasFrac := strings.Cut(mant, ".")
	if whole == "" || !jsonDigits([]byte(whole)) || (hasFrac && (frac == "" || !jsonDigits([]byte(frac)))) {
		return bad()
	}
	// exp saturates past any value that could matter: beyond it the result
	// is out of range (positive) or rounds to zero (negative).
	exp, limit := 0, len(s)+25
	if hasExp {
		expNeg := strings.HasPrefix(expText, "-")
		expText = strings.TrimPrefix(strings.TrimPrefix(expText, "-"), "+")
		if expText == "" || !jsonDigits([]byte(expText)) {
			return bad()
		}
		for _, c := range expText {
			exp = min(exp*10+int(c-'0'), limit)
		}
		if expNeg {
			exp = -exp
		}
	}
	digits := strings.TrimLeft(whole+frac, "0")
	if digits == "" {
		return 0, nil
	}
	// value in ms = digits × 10^shift
	shift := exp - len(frac) + 3
	var intText string
	roundUp := false
	if shift >= 0 {
		if len(digits)+shift > 19 {
			return outOfRange()
		}
		intText = digits + strings.Repeat("0", shift)
	} else {
		keep := len(digits) + shift
		if keep < 0 {
			return 0, nil
		}
		if keep > 19 {
			return outOfRange()
		}
		intText, roundUp = digits[:keep], digits[keep] >= '5'
	}
	var u uint64
	if intText != "" {
		var err error
		if u, err = strconv.ParseUint(intText, 10, 64); err != nil {
			return outOfRange()
		}
	}
	if roundUp {
		u++ // intText has at most 19 digits, so no wrap
	}
	max := uint64(math.MaxInt64)
	if neg {
		max++
	}
	if u > max {
		return outOfRange()
	}
	if neg {
		return -int64(u), nil // wraps correctly for u = 2^63
	}
	return int64(u), nil
}

// jsonShorten cuts hostile text to a length fit for an error message.
func jsonShorten(s string) string { return strictjson.Shorten(s) }

func jsonMalformed(format string, args ...any) error {
	return ruleError(ErrMalformed, format, args...)
}
