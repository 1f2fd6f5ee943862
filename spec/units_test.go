package spec

import (
	"strings"
	"testing"
	"time"
)

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1", 1},
		{"1024", 1024},
		{"1b", 1},
		{"1B", 1},
		{"1k", 1 << 10},
		{"1K", 1 << 10},
		{"1kb", 1 << 10},
		{"1KB", 1 << 10},
		{"1KiB", 1 << 10},
		{"1ki", 1 << 10},
		{"64m", 64 << 20},
		{"64M", 64 << 20},
		{"64mb", 64 << 20},
		{"10000Mb", 10000 << 20},
		{"2g", 2 << 30},
		{"2GB", 2 << 30},
		{"2GiB", 2 << 30},
		{"1t", 1 << 40},
		{"1tb", 1 << 40},
		{"1p", 1 << 50},
		{"1.5G", 3 << 29},
		{"1.5g", 3 << 29},
		{"0.5k", 512},
		{"1.1k", 1126},
		{"32 MB", 32 << 20},
		{"007m", 7 << 20},
		{"8191p", 8191 << 50},
		{"9223372036854775807", 1<<63 - 1},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBytes(tt.in)
			if err != nil {
				t.Fatalf("ParseBytes(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseBytes(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseBytesErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "not a number"},
		{"-1", "not a number"},
		{"-1m", "not a number"},
		{"m", "not a number"},
		{"abc", "not a number"},
		{".5m", "not a number"},
		{"5.m", "not a number"},
		{"1.2.3m", "not a number"},
		{"1x", `unknown unit "x"`},
		{"1 x", `unknown unit "x"`},
		{"1mm", `unknown unit "mm"`},
		{"1mib2", `unknown unit "mib2"`},
		{"1i", `unknown unit "i"`},
		{"1  m", `unknown unit " m"`},
		{" 1m", "not a number"},
		{"1m ", `unknown unit "m "`},
		{"8192p", "too large"},
		{"9223372036854775808", "too large"},
		{"99999999999999999999k", "too large"},
		{"9999999999.5p", "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBytes(tt.in)
			if err == nil {
				t.Fatalf("ParseBytes(%q) = %d, want an error containing %q", tt.in, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseBytes(%q) error = %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"0s", 0},
		{"10ms", 10 * time.Millisecond},
		{"500us", 500 * time.Microsecond},
		{"2.5s", 2500 * time.Millisecond},
		{"30s", 30 * time.Second},
		{"1m30s", 90 * time.Second},
		{"30m", 30 * time.Minute},
		{"1h", time.Hour},
		{"1h30m", 90 * time.Minute},
		{"1h5m30s20ms", time.Hour + 5*time.Minute + 30*time.Second + 20*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if err != nil {
				t.Fatalf("ParseDuration(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseDurationErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty duration"},
		{"30", `duration "30" has no unit; write it with one, as in "30s"`},
		{"1.5", "has no unit"},
		{"00", "has no unit"},
		{"1d", "is not valid"},
		{"s", "is not valid"},
		{"1 s", "is not valid"},
		{"-1s", "is negative"},
		{"abc", "is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if err == nil {
				t.Fatalf("ParseDuration(%q) = %v, want an error containing %q", tt.in, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseDuration(%q) error = %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestParseCpuset(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0", "0"},
		{"1", "1"},
		{"0-2", "0-2"},
		{"0-2,4", "0-2,4"},
		{"4,0-2", "0-2,4"},
		{"0,1,2", "0-2"},
		{"2,1,0,3", "0-3"},
		{"0-3,2-5", "0-5"},
		{"1-1", "1"},
		{"0-2,3", "0-3"},
		{"0,0", "0"},
		{"1,3,5-7", "1,3,5-7"},
		{"8191", "8191"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCpuset(tt.in)
			if err != nil {
				t.Fatalf("ParseCpuset(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseCpuset(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseCpusetErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty cpuset"},
		{",", "empty entry"},
		{"0,", "empty entry"},
		{",0", "empty entry"},
		{"0,,1", "empty entry"},
		{"2-1", `reversed range "2-1"; write the lower CPU first, as in "1-2"`},
		{"a", `"a" is not a CPU number`},
		{"0-a", `"a" is not a CPU number`},
		{"-1", "empty bound"},
		{"1-", "empty bound"},
		{"1-2-3", `"2-3" is not a CPU number`},
		{"0 ,1", `"0 " is not a CPU number`},
		{"8192", "CPU 8192 is out of range"},
		{"99999999999999999999", "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCpuset(tt.in)
			if err == nil {
				t.Fatalf("ParseCpuset(%q) = %q, want an error containing %q", tt.in, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseCpuset(%q) error = %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}
