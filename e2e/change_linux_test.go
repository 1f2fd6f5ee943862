package e2e

import (
	"strings"
	"testing"
	"time"
)

// Idempotence and change (issue 8 item 7): a second up does nothing, a
// comment changes nothing, and a change replaces exactly what it touches.

// actionsOn lists every plan action line on the resources.
func actionsOn(resources ...string) []string {
	var out []string
	for _, r := range resources {
		for _, sym := range []string{"+", "~", "±", "-"} {
			out = append(out, "\n"+sym+" "+r+"\n")
		}
	}
	return out
}

// planShows fails unless the plan output has every want and none of
// unwanted.
func planShows(t *testing.T, p *proj, want, unwanted []string) {
	t.Helper()
	code, out := p.planExit()
	if code != 2 {
		t.Fatalf("plan --detailed-exitcode: exit %d, want 2 (changes):\n%s", code, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("plan lacks %q:\n%s", w, out)
		}
	}
	for _, u := range unwanted {
		if strings.Contains(out, u) {
			t.Errorf("plan has %q:\n%s", u, out)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

func TestNoChangesAfterUpAndForComments(t *testing.T) {
	requirePortsFree(t, "8081")
	e := newEnv(t)
	p := e.project("web-db")
	p.must("up", "-d")
	before := p.containerIDs(t, "db", "web")
	p.assertNoChanges(t)

	// Comments, blank lines and a comment at the end of a line.
	p.edit(t, "name: web-db", "# a comment\n\nname: web-db # the project")
	p.edit(t, "  web:\n", "  # web serves what db has\n  web:   # trailing\n")
	p.assertNoChanges(t)
	r := p.must("up", "-d")
	if !strings.Contains(r.stderr, "No changes.") {
		t.Fatalf("a second up changed something:\n%s", r)
	}
	if after := p.containerIDs(t, "db", "web"); after["db"] != before["db"] || after["web"] != before["web"] {
		t.Fatalf("containers changed: %v → %v", before, after)
	}
}

func TestChangedCommandReplacesOnlyThatService(t *testing.T) {
	requirePortsFree(t, "8081")
	e := newEnv(t)
	p := e.project("web-db")
	p.must("up", "-d")
	before := p.containerIDs(t, "db", "web")

	p.edit(t, "sleep 1; done", "sleep 2; done")
	planShows(t, p, []string{"± service/web", "~ command:"}, actionsOn("service/db", "network/back"))
	p.must("up", "-d", "-t", "0")
	after := p.containerIDs(t, "db", "web")
	if after["db"] != before["db"] {
		t.Errorf("db was replaced (%s → %s)", before["db"], after["db"])
	}
	if after["web"] == before["web"] {
		t.Errorf("web was not replaced")
	}
	p.assertNoChanges(t)
	httpGet(t, "http://127.0.0.1:8081/", "db-ready", 10*time.Second)
}

// A service that shares another's network namespace is replaced with it.
func TestChangedCommandReplacesNamespaceSharers(t *testing.T) {
	e := newEnv(t)
	p := e.project("joined")
	p.must("up", "-d")
	before := p.containerIDs(t, "web", "sidecar")
	p.waitLog(t, "joined-sidecar-1", "joined", 10*time.Second)

	p.edit(t, "echo joined >", "echo joined-again >")
	planShows(t, p, []string{"± service/web", "± service/sidecar"}, nil)
	p.must("up", "-d", "-t", "0")
	after := p.containerIDs(t, "web", "sidecar")
	if after["web"] == before["web"] || after["sidecar"] == before["sidecar"] {
		t.Errorf("want both replaced: %v → %v", before, after)
	}
	p.assertNoChanges(t)
	p.waitLog(t, "joined-sidecar-1", "joined-again", 10*time.Second)
}

func TestChangedNetworkReplacesItsMembers(t *testing.T) {
	requirePortsFree(t, "8081")
	e := newEnv(t)
	p := e.project("web-db")
	p.must("up", "-d")
	before := p.containerIDs(t, "db", "web")

	p.edit(t, "    driver: bridge\n", "    driver: bridge\n    labels: { tier: back }\n")
	planShows(t, p, []string{"± network/back", "± service/db", "± service/web"}, nil)
	p.must("up", "-d", "-t", "0")
	after := p.containerIDs(t, "db", "web")
	if after["db"] == before["db"] || after["web"] == before["web"] {
		t.Errorf("want both replaced: %v → %v", before, after)
	}
	p.assertNoChanges(t)
	httpGet(t, "http://127.0.0.1:8081/", "db-ready", 10*time.Second)
}

func TestRemovedServiceIsRemoved(t *testing.T) {
	requirePortsFree(t, "8081")
	e := newEnv(t)
	p := e.project("web-db")
	p.must("up", "-d")
	before := p.containerIDs(t, "db", "web")

	p.writeFile(t, `name: web-db
services:
  db:
    image: busybox:latest
    command: ["sh", "-c", "mkdir -p /srv && echo db-ready > /srv/index.html && exec httpd -f -p 5432 -h /srv"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "-", "http://127.0.0.1:5432/"]
      interval: 1s
      timeout: 1s
      retries: 10
      start_period: 5s
      start_interval: 200ms
    networks:
      back:
        ipv4_address: 172.28.0.10
networks:
  back:
    driver: bridge
    ipam:
      config:
        - subnet: 172.28.0.0/16
          gateway: 172.28.0.1
`)
	planShows(t, p, []string{"- service/web"}, actionsOn("service/db", "network/back"))
	p.must("up", "-d", "-t", "0")
	after := p.containerIDs(t, "db")
	if after["db"] != before["db"] {
		t.Errorf("db was replaced (%s → %s)", before["db"], after["db"])
	}
	if ps := p.must("ps", "-a").stdout; strings.Contains(ps, "web-db-web-1") {
		t.Errorf("web's container is still there:\n%s", ps)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !portClosed("8081") {
		if time.Now().After(deadline) {
			t.Fatalf("127.0.0.1:8081 still answers after web was removed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.assertNoChanges(t)
}
