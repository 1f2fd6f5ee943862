package executor

import (
	"testing"
	"time"
)

func TestParseRestartPolicy(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    RestartPolicy
		wantErr bool
	}{
		{"", RestartPolicy{Name: "no"}, false},
		{"no", RestartPolicy{Name: "no"}, false},
		{"always", RestartPolicy{Name: "always"}, false},
		{"unless-stopped", RestartPolicy{Name: "unless-stopped"}, false},
		{"on-failure", RestartPolicy{Name: "on-failure"}, false},
		{"on-failure:3", RestartPolicy{Name: "on-failure", MaxRetries: 3}, false},
		{"on-failure:x", RestartPolicy{}, true},
		{"always:2", RestartPolicy{}, true},
		{"sometimes", RestartPolicy{}, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRestartPolicy(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if !tc.wantErr && got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestShouldRestart(t *testing.T) {
	onFailure2 := RestartPolicy{Name: "on-failure", MaxRetries: 2}
	for _, tc := range []struct {
		name     string
		p        RestartPolicy
		code     int
		manual   bool
		restarts int
		want     bool
	}{
		{"no", RestartPolicy{Name: "no"}, 1, false, 0, false},
		{"always after success", RestartPolicy{Name: "always"}, 0, false, 5, true},
		{"always after a stop", RestartPolicy{Name: "always"}, 137, true, 0, false},
		{"unless-stopped", RestartPolicy{Name: "unless-stopped"}, 0, false, 0, true},
		{"on-failure success", onFailure2, 0, false, 0, false},
		{"on-failure first", onFailure2, 3, false, 0, true},
		{"on-failure second", onFailure2, 3, false, 1, true},
		{"on-failure exhausted", onFailure2, 3, false, 2, false},
		{"on-failure unbounded", RestartPolicy{Name: "on-failure"}, 1, false, 100, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.shouldRestart(tc.code, tc.manual, tc.restarts); got != tc.want {
				t.Fatalf("got %v", got)
			}
		})
	}
}

func TestNextBackoff(t *testing.T) {
	var d time.Duration
	var got []time.Duration
	for i := 0; i < 12; i++ {
		d = nextBackoff(d, time.Second)
		got = append(got, d)
	}
	if got[0] != 100*time.Millisecond || got[1] != 200*time.Millisecond || got[9] != 51200*time.Millisecond || got[10] != time.Minute || got[11] != time.Minute {
		t.Fatalf("backoff %v", got)
	}
	if nextBackoff(time.Minute, 10*time.Second) != 100*time.Millisecond {
		t.Fatal("a 10 s run does not reset the backoff")
	}
}
