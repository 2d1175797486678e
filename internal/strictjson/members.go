package strictjson

// maxMembers and maxDepth bound what Members reads in one pass; a
// document beyond them goes to encoding/json, as does anything Members is
// unsure of. A transaction has nine members and no nesting.
const (
	maxMembers = 16
	maxDepth   = 32
)

// Members hands fn the name and raw text of each member of data, a JSON
// object, in document order, and reports whether it could. It declines
// (returns false, having called fn for none) unless data is valid JSON
// (RFC 8259, as encoding/json reads it), an object of at most maxMembers
// members nested at most maxDepth deep, whose member names are printable
// ASCII without escapes. Callers fall back to encoding/json for what it
// declines, which keeps encoding/json's messages for broken documents and
// its unescaping of names, while a well-formed request is checked and
// split in one pass without allocating. values alias data; a repeated
// name is handed over each time.
func Members(data []byte, fn func(name string, value []byte)) bool {
	var m [maxMembers]struct{ name, value [2]int }
	s := scanner{data: data}
	i := s.space(0)
	if i == len(data) || data[i] != '{' {
		return false
	}
	count := 0
	i = s.space(i + 1)
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			if count == maxMembers || i == len(data) || data[i] != '"' {
				return false
			}
			end, ok := s.str(i)
			if !ok || !plain(data[i+1:end-1]) {
				return false
			}
			m[count].name = [2]int{i + 1, end - 1}
			i = s.space(end)
			if i == len(data) || data[i] != ':' {
				return false
			}
			i = s.space(i + 1)
			end, ok = s.value(i, 1)
			if !ok {
				return false
			}
			m[count].value = [2]int{i, end}
			count++
			i = s.space(end)
			if i == len(data) {
				return false
			}
			if data[i] == '}' {
				i++
				break
			}
			if data[i] != ',' {
				return false
			}
			i = s.space(i + 1)
		}
	}
	if s.space(i) != len(data) {
		return false
	}
	for _, mb := range m[:count] {
		fn(string(data[mb.name[0]:mb.name[1]]), data[mb.value[0]:mb.value[1]])
	}
	return true
}

// plain reports whether a member name's text is printable ASCII without
// a backslash: then its bytes are the name encoding/json decodes.
func plain(name []byte) bool {
	for _, c := range name {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// scanner checks JSON values. Each method takes the index a value starts
// at and returns the index after it, and whether it is valid.
type scanner struct{ data []byte }

func (s *scanner) space(i int) int {
	for i < len(s.data) {
		switch s.data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func (s *scanner) value(i, depth int) (int, bool) {
	if i == len(s.data) {
		return i, false
	}
	switch c := s.data[i]; {
	case c == '"':
		return s.str(i)
	case c == '{' || c == '[':
		if depth == maxDepth {
			return i, false
		}
		return s.container(i, depth+1)
	case c == '-' || c >= '0' && c <= '9':
		return s.number(i)
	}
	for _, lit := range []string{"true", "false", "null"} {
		if len(s.data)-i >= len(lit) && string(s.data[i:i+len(lit)]) == lit {
			return i + len(lit), true
		}
	}
	return i, false
}

// container checks an object or an array, whose opening bracket is at i.
func (s *scanner) container(i, depth int) (int, bool) {
	closing, object := byte(']'), s.data[i] == '{'
	if object {
		closing = '}'
	}
	i = s.space(i + 1)
	if i < len(s.data) && s.data[i] == closing {
		return i + 1, true
	}
	for {
		var ok bool
		if object {
			if i == len(s.data) || s.data[i] != '"' {
				return i, false
			}
			if i, ok = s.str(i); !ok {
				return i, false
			}
			if i = s.space(i); i == len(s.data) || s.data[i] != ':' {
				return i, false
			}
			i = s.space(i + 1)
		}
		if i, ok = s.value(i, depth); !ok {
			return i, false
		}
		if i = s.space(i); i == len(s.data) {
			return i, false
		}
		switch s.data[i] {
		case closing:
			return i + 1, true
		case ',':
			i = s.space(i + 1)
		default:
			return i, false
		}
	}
}

// str checks a string whose opening quote is at i. Bytes from 0x20 up
// pass unchecked, as encoding/json lets them (it replaces invalid UTF-8
// when it decodes; callers judge the text).
func (s *scanner) str(i int) (int, bool) {
	d := s.data
	for i++; i < len(d); i++ {
		switch c := d[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i == len(d) {
				return i, false
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(d)-i <= 4 || !hex4(d[i+1:i+5]) {
					return i, false
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

func hex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// number checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at i.
func (s *scanner) number(i int) (int, bool) {
	d := s.data
	if d[i] == '-' {
		i++
	}
	switch {
	case i == len(d):
		return i, false
	case d[i] == '0':
		i++
	case d[i] >= '1' && d[i] <= '9':
		i = s.digits(i)
	default:
		return i, false
	}
	if i < len(d) && d[i] == '.' {
		if j := s.digits(i + 1); j > i+1 {
			i = j
		} else {
			return i, false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := s.digits(i)
		if j == i {
			return i, false
		}
		i = j
	}
	return i, true
}

func (s *scanner) digits(i int) int {
	for i < len(s.data) && s.data[i] >= '0' && s.data[i] <= '9' {
		i++
	}
	return i
}
