package storagewrite

import (
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/go-cmp/cmp"
)

func TestDecimalFromBytes(t *testing.T) {
	tests := []struct {
		kind decimalKind
		in   []byte // little endian two's complement of the scaled value
		want string
	}{
		{numericKind, []byte{}, "0"},
		{numericKind, []byte{0x01}, "0.000000001"},
		{numericKind, []byte{0xFF}, "-0.000000001"},
		{numericKind, []byte{0x00, 0xCA, 0x9A, 0x3B}, "1"},          // 1e9 = 0x3B9ACA00
		{numericKind, []byte{0x00, 0x36, 0x65, 0xC4}, "-1"},         // -1e9
		{numericKind, []byte{0x00, 0xAA, 0xBF, 0x72, 0x05}, "23.4"}, // 23.4e9 = 0x0572BFAA00
		{bigNumericKind, []byte{0x01}, "0.00000000000000000000000000000000000001"},
	}
	for _, tc := range tests {
		got, err := tc.kind.fromBytes(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%s.fromBytes(% x) = %q, %v, want %q", tc.kind.name, tc.in, got, err, tc.want)
		}
	}
}

func TestDecimalFromString(t *testing.T) {
	tests := []struct {
		kind    decimalKind
		in      string
		want    string
		wantErr bool
	}{
		{numericKind, "1.50", "1.5", false},
		{numericKind, "-0", "0", false},
		{numericKind, "1e3", "1000", false},
		{numericKind, "0.0000000005", "0.000000001", false}, // half away from zero
		{numericKind, "-0.0000000005", "-0.000000001", false},
		{numericKind, "0.0000000004", "0", false},
		{numericKind, "100000000000000000000000000000", "", true},
		{numericKind, "abc", "", true},
		{bigNumericKind, "578960446186580977117854925043439539266.34992332820282019728792003956564819967", "578960446186580977117854925043439539266.34992332820282019728792003956564819967", false},
		{bigNumericKind, "578960446186580977117854925043439539266.34992332820282019728792003956564819968", "", true},
	}
	for _, tc := range tests {
		got, err := tc.kind.fromString(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s.fromString(%q) = %q, %v, want %q, error %v", tc.kind.name, tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	if got, err := numericKind.fromFloat(0.1); err != nil || got != "0.1" {
		t.Errorf("NUMERIC.fromFloat(0.1) = %q, %v, want 0.1", got, err)
	}
}

func TestCivilFromPacked(t *testing.T) {
	// 3497124416 is 00:52:07.123456 in CivilTimeEncoder's packing: (0<<12|52<<6|7)<<20 | 123456.
	gotT, err := timeFromPacked(3497124416)
	if want := (civil.Time{Hour: 0, Minute: 52, Second: 7, Nanosecond: 123456000}); err != nil || gotT != want {
		t.Errorf("timeFromPacked(3497124416) = %v, %v, want %v", gotT, err, want)
	}
	packed := int64(2021)<<46 | int64(9)<<42 | int64(27)<<37 | (int64(20)<<12|int64(51)<<6|int64(10))<<20 | 752000
	gotDT, err := dateTimeFromPacked(packed)
	want := civil.DateTime{Date: civil.Date{Year: 2021, Month: 9, Day: 27}, Time: civil.Time{Hour: 20, Minute: 51, Second: 10, Nanosecond: 752000000}}
	if err != nil || gotDT != want {
		t.Errorf("dateTimeFromPacked(%d) = %v, %v, want %v", packed, gotDT, err, want)
	}
	for _, bad := range []int64{-1, int64(24) << 32, int64(2021)<<46 | int64(13)<<42 | int64(1)<<37} {
		if _, err := dateTimeFromPacked(bad); err == nil {
			t.Errorf("dateTimeFromPacked(%d) = nil error, want invalid", bad)
		}
	}
	if _, err := timeFromPacked(int64(24) << 32); err == nil {
		t.Errorf("timeFromPacked(hour 24) = nil error, want invalid")
	}
}

func TestCivilFromString(t *testing.T) {
	tests := []struct {
		in   string
		want civil.DateTime
	}{
		{"2024-01-02 03:04:05.123456789", civil.DateTime{Date: civil.Date{Year: 2024, Month: 1, Day: 2}, Time: civil.Time{Hour: 3, Minute: 4, Second: 5, Nanosecond: 123456000}}},
		{"2024-01-02T03:04:05", civil.DateTime{Date: civil.Date{Year: 2024, Month: 1, Day: 2}, Time: civil.Time{Hour: 3, Minute: 4, Second: 5}}},
		{"2024-01-02", civil.DateTime{Date: civil.Date{Year: 2024, Month: 1, Day: 2}}},
	}
	for _, tc := range tests {
		got, err := dateTimeFromString(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("dateTimeFromString(%q) = %v, %v, want %v", tc.in, got, err, tc.want)
		}
	}
	if _, err := dateTimeFromString("yesterday"); err == nil {
		t.Errorf("dateTimeFromString(yesterday) = nil error, want invalid")
	}
}

func TestDateAndTimestampRanges(t *testing.T) {
	tests := []struct {
		days    int64
		want    civil.Date
		wantErr bool
	}{
		{0, civil.Date{Year: 1970, Month: 1, Day: 1}, false},
		{minDateDays, civil.Date{Year: 1, Month: 1, Day: 1}, false},
		{maxDateDays, civil.Date{Year: 9999, Month: 12, Day: 31}, false},
		{maxDateDays + 1, civil.Date{}, true},
	}
	for _, tc := range tests {
		got, err := dateFromDays(tc.days)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("dateFromDays(%d) = %v, %v, want %v, error %v", tc.days, got, err, tc.want, tc.wantErr)
		}
	}
	got, err := timestampFromMicros(maxTimestampMicros)
	if diff := cmp.Diff(time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), got); err != nil || diff != "" {
		t.Errorf("timestampFromMicros(max) = %v, %v (-want +got):\n%s", got, err, diff)
	}
	if _, err := timestampFromMicros(maxTimestampMicros + 1); err == nil {
		t.Errorf("timestampFromMicros(max+1) = nil error, want out of range")
	}
}
