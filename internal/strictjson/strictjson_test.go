package strictjson

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestObject(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		kind  Kind // 0: accepted
		field string
	}{
		{name: "members", data: ` {"a": 1, "b": [true, {"c": null}]} `},
		{name: "empty object", data: `{}`},
		{name: "empty", data: ``, kind: NotObject},
		{name: "null", data: `null`, kind: NotObject},
		{name: "array", data: `[{"a":1}]`, kind: NotObject},
		{name: "string", data: `"a"`, kind: NotObject},
		{name: "unknown", data: `{"a":1,"x":2}`, kind: UnknownField, field: "x"},
		{name: "case folded", data: `{"A":1}`, kind: UnknownField, field: "A"},
		{name: "repeated", data: `{"a":1,"a":1}`, kind: RepeatedField, field: "a"},
		{name: "bad value", data: `{"a":}`, kind: Syntax, field: "a"},
		{name: "unterminated", data: `{"a":1`, kind: Syntax},
		{name: "second object", data: `{"a":1}{}`, kind: TrailingData},
		{name: "garbage after", data: `{"a":1} x`, kind: TrailingData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a, b json.RawMessage
			err := Object([]byte(tt.data), func(name string) *json.RawMessage {
				switch name {
				case "a":
					return &a
				case "b":
					return &b
				}
				return nil
			})
			if tt.kind == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != tt.kind || e.Field != tt.field {
				t.Fatalf("got %#v (%v), want kind %d field %q", err, err, tt.kind, tt.field)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	type req struct {
		Address string `json:"address"`
		N       int    `json:"n"`
	}
	tests := []struct {
		name  string
		data  string
		want  req
		kind  Kind
		field string
	}{
		{name: "all", data: `{"address":"x","n":2}`, want: req{"x", 2}},
		{name: "some", data: `{"n":2}`, want: req{N: 2}},
		{name: "unknown", data: `{"address":"x","memo":1}`, kind: UnknownField, field: "memo"},
		{name: "other case", data: `{"Address":"x"}`, kind: UnknownField, field: "Address"},
		{name: "repeated", data: `{"n":1,"n":2}`, kind: RepeatedField, field: "n"},
		{name: "wrong type", data: `{"n":"2"}`, kind: WrongType, field: "n"},
		{name: "trailing", data: `{"n":1} 1`, kind: TrailingData},
		{name: "null", data: `null`, kind: NotObject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got req
			err := Decode([]byte(tt.data), &got, "address", "n")
			if tt.kind == 0 {
				if err != nil || got != tt.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != tt.kind || e.Field != tt.field {
				t.Fatalf("got %#v (%v), want kind %d field %q", err, err, tt.kind, tt.field)
			}
			if tt.kind == WrongType {
				var te *json.UnmarshalTypeError
				if !errors.As(err, &te) {
					t.Errorf("%v does not wrap encoding/json's type error", err)
				}
			}
		})
	}
}

func TestErrorShortensNames(t *testing.T) {
	err := &Error{Kind: UnknownField, Field: strings.Repeat("x", 1000)}
	if len(err.Error()) > 100 {
		t.Errorf("message of %d bytes for a long name", len(err.Error()))
	}
}
