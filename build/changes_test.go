package build

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestApplyChanges(t *testing.T) {
	base := func() v1.Config {
		return v1.Config{Env: []string{"PATH=/bin", "HOME=/root"}, Cmd: []string{"sh"}, Entrypoint: []string{"/init"}}
	}
	tests := []struct {
		name    string
		changes []string
		want    v1.Config
	}{
		{
			name:    "CMD exec form, as docker commit -c",
			changes: []string{`CMD ["/bin/httpd","-f","-h","/data/html"]`},
			want:    v1.Config{Env: []string{"PATH=/bin", "HOME=/root"}, Cmd: []string{"/bin/httpd", "-f", "-h", "/data/html"}, Entrypoint: []string{"/init"}},
		},
		{
			name:    "ENTRYPOINT clears the CMD",
			changes: []string{`ENTRYPOINT ["/new"]`},
			want:    v1.Config{Env: []string{"PATH=/bin", "HOME=/root"}, Entrypoint: []string{"/new"}},
		},
		{
			name:    "CMD then ENTRYPOINT keeps the CMD",
			changes: []string{`CMD ["x"]`, `ENTRYPOINT /new`},
			want:    v1.Config{Env: []string{"PATH=/bin", "HOME=/root"}, Entrypoint: []string{"/bin/sh", "-c", "/new"}, Cmd: []string{"x"}},
		},
		{
			name:    "ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME, STOPSIGNAL",
			changes: []string{"ENV A=b C=$HOME", "EXPOSE 80 53/udp", `LABEL maintainer="ops@example.com"`, "USER www", "WORKDIR /data", "VOLUME /data", "STOPSIGNAL SIGINT"},
			want: v1.Config{
				Env:          []string{"PATH=/bin", "HOME=/root", "A=b", "C=/root"},
				Cmd:          []string{"sh"},
				Entrypoint:   []string{"/init"},
				ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}},
				Labels:       map[string]string{"maintainer": "ops@example.com"},
				User:         "www",
				WorkingDir:   "/data",
				Volumes:      map[string]struct{}{"/data": {}},
				StopSignal:   "SIGINT",
			},
		},
		{
			name:    "lowercase instruction, ONBUILD, HEALTHCHECK",
			changes: []string{"onbuild RUN make", "healthcheck CMD true"},
			want: v1.Config{
				Env: []string{"PATH=/bin", "HOME=/root"}, Cmd: []string{"sh"}, Entrypoint: []string{"/init"},
				OnBuild:     []string{"RUN make"},
				Healthcheck: &v1.HealthConfig{Test: []string{"CMD-SHELL", "true"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			if err := ApplyChanges(&cfg, tt.changes); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, cfg, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyChangesErrors(t *testing.T) {
	tests := []struct {
		changes []string
		want    string
	}{
		{[]string{"RUN echo hi"}, `change 1 (RUN echo hi): RUN cannot be applied by a commit; valid instructions are CMD`},
		{[]string{"CMD [\"a\"]", "FROM busybox"}, "change 2 (FROM busybox): FROM cannot be applied by a commit"},
		{[]string{"BOGUS x"}, "change 1 (BOGUS x): BOGUS cannot be applied by a commit"},
		{[]string{""}, "change 1 (): empty change"},
		{[]string{"EXPOSE 80/icmp"}, `unknown protocol "icmp"`},
		{[]string{"STOPSIGNAL NOPE"}, `STOPSIGNAL "NOPE" is not a signal`},
		{[]string{"ENV"}, "change 1 (ENV): ENV: ENV requires at least one argument"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.changes, "|"), func(t *testing.T) {
			cfg := v1.Config{Cmd: []string{"sh"}}
			err := ApplyChanges(&cfg, tt.changes)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if !cmp.Equal(cfg, v1.Config{Cmd: []string{"sh"}}) {
				t.Errorf("config changed on error: %+v", cfg)
			}
		})
	}
}
