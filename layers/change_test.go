package layers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestApplyChanges(t *testing.T) {
	tests := []struct {
		name    string
		changes []string
		want    v1.Config
	}{
		{"cmd json", []string{`CMD ["/bin/httpd", "-f"]`}, v1.Config{Cmd: []string{"/bin/httpd", "-f"}}},
		{"cmd shell", []string{`CMD echo hi`}, v1.Config{Cmd: []string{"/bin/sh", "-c", "echo hi"}}},
		{"entrypoint", []string{`entrypoint ["/init"]`}, v1.Config{Entrypoint: []string{"/init"}}},
		{"env pairs", []string{`ENV A=1 B="two words"`, `ENV A=3`}, v1.Config{Env: []string{"A=3", "B=two words"}}},
		{"env legacy", []string{`ENV PATH /usr/bin:/bin`}, v1.Config{Env: []string{"PATH=/usr/bin:/bin"}}},
		{"label", []string{`LABEL a=b "c d"='e f'`}, v1.Config{Labels: map[string]string{"a": "b", "c d": "e f"}}},
		{"expose", []string{`EXPOSE 80 53/udp 8000-8010`}, v1.Config{ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8000-8010/tcp": {}}}},
		{"user workdir", []string{`USER nobody`, `WORKDIR /srv`, `WORKDIR www`}, v1.Config{User: "nobody", WorkingDir: "/srv/www"}},
		{"volume", []string{`VOLUME ["/data", "/logs"]`, `VOLUME /x`}, v1.Config{Volumes: map[string]struct{}{"/data": {}, "/logs": {}, "/x": {}}}},
		{"stopsignal", []string{`STOPSIGNAL SIGINT`}, v1.Config{StopSignal: "SIGINT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c v1.Config
			if err := ApplyChanges(&c, tc.changes); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, c); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{"RUN echo", "CMD", "EXPOSE http", "EXPOSE 70000", "ENV =x", `LABEL "a=b`} {
		var c v1.Config
		if err := ApplyChanges(&c, []string{bad}); err == nil {
			t.Errorf("ApplyChanges(%q): want error", bad)
		}
	}
}
