// Package strictjson decodes JSON objects from hostile input (HTTP
// clients, peers) more strictly than encoding/json, for chain and api
// alike. encoding/json folds the case of member names, keeps the last of
// a repeated member and ignores unknown ones, so {"amount":1,"Amount":2}
// is two spellings of one field that other parsers read differently;
// here member names match exactly, unknown and repeated members are
// refused, and the document is exactly one object with nothing after it.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// Kind says which rule a document broke, for callers that phrase their
// own messages.
type Kind int

// Kinds of Error.
const (
	NotObject     Kind = iota + 1 // the document is not a JSON object (empty, null, an array...)
	Syntax                        // the object is not valid JSON; Err is encoding/json's error
	UnknownField                  // a member the caller does not take
	RepeatedField                 // a member given twice
	TrailingData                  // anything but white space after the object
	WrongType                     // Decode only: a member's value does not fit v; Err is encoding/json's error
)

// Error is why a document was refused. Field names the member at fault,
// when there is one; Err is encoding/json's error, when it found the
// fault, so errors.As still finds a *json.SyntaxError or
// *json.UnmarshalTypeError.
type Error struct {
	Kind  Kind
	Field string
	Err   error
}

// maxName bounds how much of a hostile member name an error repeats.
const maxName = 40

func (e *Error) Error() string {
	switch e.Kind {
	case NotObject:
		return "not a JSON object"
	case UnknownField:
		return "unknown field " + strconv.Quote(Shorten(e.Field))
	case RepeatedField:
		return fmt.Sprintf("field %q appears twice", e.Field)
	case TrailingData:
		return "data after the object"
	}
	if e.Field != "" {
		return e.Field + ": " + e.Err.Error()
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Shorten cuts hostile text to a length fit for an error message.
func Shorten(s string) string {
	if len(s) <= maxName {
		return s
	}
	return s[:maxName] + "..."
}

// Object reads data as exactly one JSON object and hands the raw text of
// each member to the slot that field returns for its name; field returns
// nil for a name the caller does not take. Every refusal is an *Error.
// The slots alias data.
func Object(data []byte, field func(name string) *json.RawMessage) error {
	var refused error
	if Members(data, func(name string, value []byte) {
		if refused != nil {
			return
		}
		switch slot := field(name); {
		case slot == nil:
			refused = &Error{Kind: UnknownField, Field: name}
		case *slot != nil:
			refused = &Error{Kind: RepeatedField, Field: name}
		default:
			*slot = value
		}
	}) {
		return refused
	}
	return objectSlow(data, field)
}

// objectSlow is Object by encoding/json's tokenizer, for the documents
// Members declines: its errors say what is wrong with them.
func objectSlow(data []byte, field func(name string) *json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return &Error{Kind: NotObject, Err: err}
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return &Error{Kind: Syntax, Err: err}
		}
		name, _ := tok.(string) // inside an object every other token is a name
		slot := field(name)
		if slot == nil {
			return &Error{Kind: UnknownField, Field: name}
		}
		if *slot != nil {
			return &Error{Kind: RepeatedField, Field: name}
		}
		if err := dec.Decode(slot); err != nil {
			return &Error{Kind: Syntax, Field: name, Err: err}
		}
	}
	if _, err := dec.Token(); err != nil {
		return &Error{Kind: Syntax, Err: err}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &Error{Kind: TrailingData}
	}
	return nil
}

// Decode decodes data, one JSON object whose members are among fields,
// each at most once, into v with encoding/json. Every refusal is an
// *Error.
func Decode(data []byte, v any, fields ...string) error {
	slots := make(map[string]*json.RawMessage, len(fields))
	err := Object(data, func(name string) *json.RawMessage {
		if !slices.Contains(fields, name) {
			return nil
		}
		if slots[name] == nil {
			slots[name] = new(json.RawMessage)
		}
		return slots[name]
	})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		field := ""
		if errors.As(err, &te) {
			field = te.Field
		}
		return &Error{Kind: WrongType, Field: field, Err: err}
	}
	return nil
}
