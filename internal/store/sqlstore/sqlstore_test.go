package sqlstore

import (
	"testing"
	"time"
)

func TestQ(t *testing.T) {
	const query = "UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ?"
	tests := []struct {
		numbered bool
		want     string
	}{
		{numbered: false, want: query},
		{numbered: true, want: "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND user_id = $3"},
	}
	for _, tt := range tests {
		s := New(Dialect{Numbered: tt.numbered}, nil, nil, time.Second)
		if got := s.q(query); got != tt.want {
			t.Errorf("q(%q) with Numbered %v = %q, want %q", query, tt.numbered, got, tt.want)
		}
	}
}

func TestDBTime(t *testing.T) {
	at := time.Date(2025, time.January, 2, 3, 4, 5, 6789, time.FixedZone("CET", 3600))
	if got, want := New(Dialect{UnixMicros: true}, nil, nil, time.Second).dbTime(at), at.UnixMicro(); got != want {
		t.Errorf("dbTime with UnixMicros = %v, want %v", got, want)
	}
	want := time.Date(2025, time.January, 2, 2, 4, 5, 6000, time.UTC)
	if got := New(Dialect{}, nil, nil, time.Second).dbTime(at); got != want {
		t.Errorf("dbTime = %v, want %v", got, want)
	}
}

func TestScanTime(t *testing.T) {
	utc := time.Date(2025, time.January, 2, 3, 4, 5, 6000, time.UTC)
	tests := []struct {
		name    string
		src     any
		null    bool
		want    time.Time
		wantErr bool
	}{
		{name: "SQLite microseconds", src: utc.UnixMicro(), want: utc},
		{name: "time.Time", src: utc.In(time.FixedZone("CET", 3600)), want: utc},
		{name: "NULL in a nullable column", src: nil, null: true, want: time.Time{}},
		{name: "NULL in a NOT NULL column", src: nil, wantErr: true},
		{name: "text", src: []byte("2025-01-02"), wantErr: true},
	}
	for _, tt := range tests {
		got := time.Unix(1, 0) // overwritten unless Scan fails
		dest := scanTime(&got)
		if tt.null {
			dest = scanNullTime(&got)
		}
		err := dest.Scan(tt.src)
		if (err != nil) != tt.wantErr {
			t.Errorf("Scan(%s): err = %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if err == nil && (!got.Equal(tt.want) || got.Location() != time.UTC) {
			t.Errorf("Scan(%s) = %v, want %v in UTC", tt.name, got, tt.want)
		}
	}
}
