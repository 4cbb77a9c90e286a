package storagewrite

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/civil"
)

// Wire encodings of the Storage Write API's protobuf rows, per
// https://cloud.google.com/bigquery/docs/supported-data-types: TIMESTAMP is microseconds since
// the epoch, DATE days since the epoch, TIME and DATETIME either literals or the CivilTimeEncoder
// bit fields, NUMERIC and BIGNUMERIC either decimal text or the BigDecimalByteStringEncoder form
// (the scaled integer, two's complement, little endian).

const (
	numericScale    = 9
	bigNumericScale = 38

	minDateDays = -719162 // 0001-01-01
	maxDateDays = 2932896 // 9999-12-31

	minTimestampMicros = -62135596800000000 // 0001-01-01 00:00:00 UTC
	maxTimestampMicros = 253402300799999999 // 9999-12-31 23:59:59.999999 UTC
)

var (
	maxNumeric    = new(big.Int).Sub(new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil), big.NewInt(1))
	minNumeric    = new(big.Int).Neg(maxNumeric)
	maxBigNumeric = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(1))
	minBigNumeric = new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 255))
)

// decimalKind carries the scale and range of NUMERIC or BIGNUMERIC.
type decimalKind struct {
	name     string
	scale    int
	min, max *big.Int
}

var (
	numericKind    = decimalKind{"NUMERIC", numericScale, minNumeric, maxNumeric}
	bigNumericKind = decimalKind{"BIGNUMERIC", bigNumericScale, minBigNumeric, maxBigNumeric}
)

// fromBytes decodes the scaled little-endian two's-complement integer into decimal text.
func (k decimalKind) fromBytes(b []byte) (string, error) {
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	v := new(big.Int).SetBytes(be)
	if len(b) > 0 && b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return k.format(v)
}

// fromString parses decimal text, rounding half away from zero to the type's scale.
func (k decimalKind) fromString(s string) (string, error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok {
		return "", fmt.Errorf("invalid %s value %q", k.name, s)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k.scale)), nil)))
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() != 0 && new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(r.Denom()) >= 0 {
		if r.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return k.format(q)
}

// fromInt converts an integer wire value.
func (k decimalKind) fromInt(i int64) (string, error) {
	return k.fromString(strconv.FormatInt(i, 10))
}

// fromFloat converts a floating-point wire value through its shortest decimal text, so 0.1 stays 0.1.
func (k decimalKind) fromFloat(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("invalid %s value %v", k.name, f)
	}
	return k.fromString(strconv.FormatFloat(f, 'g', -1, 64))
}

// format renders a scaled integer as minimal decimal text ("1.5", "-2", "0.000000001").
func (k decimalKind) format(v *big.Int) (string, error) {
	if v.Cmp(k.min) < 0 || v.Cmp(k.max) > 0 {
		return "", fmt.Errorf("%s value out of range", k.name)
	}
	digits := new(big.Int).Abs(v).String()
	if len(digits) <= k.scale {
		digits = strings.Repeat("0", k.scale-len(digits)+1) + digits
	}
	intPart, frac := digits[:len(digits)-k.scale], strings.TrimRight(digits[len(digits)-k.scale:], "0")
	out := intPart
	if frac != "" {
		out += "." + frac
	}
	if v.Sign() < 0 {
		out = "-" + out
	}
	return out, nil
}

// timestampFromMicros converts microseconds since the epoch.
func timestampFromMicros(us int64) (time.Time, error) {
	if us < minTimestampMicros || us > maxTimestampMicros {
		return time.Time{}, fmt.Errorf("TIMESTAMP value %d out of range", us)
	}
	return time.UnixMicro(us).UTC(), nil
}

// dateFromDays converts days since the epoch.
func dateFromDays(days int64) (civil.Date, error) {
	if days < minDateDays || days > maxDateDays {
		return civil.Date{}, fmt.Errorf("DATE value %d out of range", days)
	}
	return civil.DateOf(time.Unix(days*86400, 0).UTC()), nil
}

// dateFromString parses a DATE literal.
func dateFromString(s string) (civil.Date, error) {
	d, err := civil.ParseDate(strings.TrimSpace(s))
	if err != nil {
		return civil.Date{}, fmt.Errorf("invalid DATE value %q", s)
	}
	return d, nil
}

// timeFromPacked decodes CivilTimeEncoder's 64-bit TIME: | H(5) | M(6) | S(6) | micros(20) |.
func timeFromPacked(v int64) (civil.Time, error) {
	secs := v >> 20
	if v < 0 || secs>>17 != 0 {
		return civil.Time{}, fmt.Errorf("invalid packed TIME value %d", v)
	}
	t := civil.Time{
		Hour:       int(secs>>12) & 0x1F,
		Minute:     int(secs>>6) & 0x3F,
		Second:     int(secs) & 0x3F,
		Nanosecond: int(v&0xFFFFF) * 1000,
	}
	if !t.IsValid() {
		return civil.Time{}, fmt.Errorf("invalid packed TIME value %d", v)
	}
	return t, nil
}

// dateTimeFromPacked decodes CivilTimeEncoder's 64-bit DATETIME:
// | year(14) | month(4) | day(5) | H(5) | M(6) | S(6) | micros(20) |.
func dateTimeFromPacked(v int64) (civil.DateTime, error) {
	secs := v >> 20
	if v < 0 || secs>>40 != 0 {
		return civil.DateTime{}, fmt.Errorf("invalid packed DATETIME value %d", v)
	}
	t, err := timeFromPacked((secs&0x1FFFF)<<20 | v&0xFFFFF)
	if err != nil {
		return civil.DateTime{}, fmt.Errorf("invalid packed DATETIME value %d", v)
	}
	d := civil.Date{Year: int(secs>>26) & 0x3FFF, Month: time.Month(int(secs>>22) & 0xF), Day: int(secs>>17) & 0x1F}
	if !d.IsValid() || d.Year < 1 {
		return civil.DateTime{}, fmt.Errorf("invalid packed DATETIME value %d", v)
	}
	return civil.DateTime{Date: d, Time: t}, nil
}

// timeFromString parses a TIME literal, keeping microseconds.
func timeFromString(s string) (civil.Time, error) {
	t, err := civil.ParseTime(strings.TrimSpace(s))
	if err != nil {
		return civil.Time{}, fmt.Errorf("invalid TIME value %q", s)
	}
	t.Nanosecond -= t.Nanosecond % 1000
	return t, nil
}

// dateTimeFromString parses a DATETIME literal: a date, optionally followed by ' ' or 'T' and a time.
func dateTimeFromString(s string) (civil.DateTime, error) {
	s = strings.TrimSpace(s)
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	if !strings.Contains(s, "T") {
		d, err := civil.ParseDate(s)
		if err != nil {
			return civil.DateTime{}, fmt.Errorf("invalid DATETIME value %q", s)
		}
		return civil.DateTime{Date: d}, nil
	}
	dt, err := civil.ParseDateTime(s)
	if err != nil {
		return civil.DateTime{}, fmt.Errorf("invalid DATETIME value %q", s)
	}
	dt.Time.Nanosecond -= dt.Time.Nanosecond % 1000
	return dt, nil
}
