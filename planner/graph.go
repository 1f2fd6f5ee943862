package planner

import "sort"

// Resource kinds, in the order the planner creates them: networks, then
// volumes, then images, then services.
const (
	kindNetwork = "network"
	kindVolume  = "volume"
	kindImage   = "image"
	kindService = "service"
)

func kindRank(kind string) int {
	switch kind {
	case kindNetwork:
		return 0
	case kindVolume:
		return 1
	case kindImage:
		return 2
	}
	return 3
}

// node is one resource in the dependency graph.
type node struct {
	kind, name string
	deps       []string // resource ids this one needs first
}

func (n *node) id() string { return n.kind + "/" + n.name }

func nodeLess(a, b *node) bool {
	if ra, rb := kindRank(a.kind), kindRank(b.kind); ra != rb {
		return ra < rb
	}
	return a.name < b.name
}

// topoSort orders nodes so that each comes after its dependencies; among
// the nodes ready at the same time it takes the smallest by (kind rank,
// name). Dependencies on ids not in the graph are ignored. A cycle is a
// *CycleError.
func topoSort(nodes map[string]*node) ([]*node, error) {
	indeg := make(map[string]int, len(nodes))
	users := make(map[string][]string, len(nodes))
	for id, n := range nodes {
		seen := map[string]bool{}
		for _, d := range n.deps {
			if _, ok := nodes[d]; !ok || seen[d] {
				continue
			}
			seen[d] = true
			indeg[id]++
			users[d] = append(users[d], id)
		}
	}
	var ready []*node
	for id, n := range nodes {
		if indeg[id] == 0 {
			ready = append(ready, n)
		}
	}
	sort.Slice(ready, func(i, j int) bool { return nodeLess(ready[i], ready[j]) })
	out := make([]*node, 0, len(nodes))
	for len(ready) > 0 {
		n := ready[0]
		ready = ready[1:]
		out = append(out, n)
		for _, u := range users[n.id()] {
			indeg[u]--
			if indeg[u] == 0 {
				un := nodes[u]
				i := sort.Search(len(ready), func(i int) bool { return nodeLess(un, ready[i]) })
				ready = append(ready, nil)
				copy(ready[i+1:], ready[i:])
				ready[i] = un
			}
		}
	}
	if len(out) < len(nodes) {
		return nil, findCycle(nodes, indeg)
	}
	return out, nil
}

// findCycle returns a cycle among the nodes left with dependencies after a
// topological sort, rotated to start at its smallest id.
func findCycle(nodes map[string]*node, indeg map[string]int) error {
	var left []string
	for id := range nodes {
		if indeg[id] > 0 {
			left = append(left, id)
		}
	}
	sort.Strings(left)
	inLeft := map[string]bool{}
	for _, id := range left {
		inLeft[id] = true
	}
	// Every node left has a dependency that is left too: walk from the
	// smallest, always to the smallest such dependency, until a node
	// repeats. The walk is deterministic.
	pos := map[string]int{}
	var path []string
	cur := left[0]
	for {
		if i, ok := pos[cur]; ok {
			cycle := path[i:]
			return &CycleError{Cycle: rotate(cycle)}
		}
		pos[cur] = len(path)
		path = append(path, cur)
		var next string
		for _, d := range nodes[cur].deps {
			if inLeft[d] && (next == "" || d < next) {
				next = d
			}
		}
		cur = next
	}
}

func rotate(cycle []string) []string {
	min := 0
	for i, id := range cycle {
		if id < cycle[min] {
			min = i
		}
	}
	out := make([]string, 0, len(cycle)+1)
	out = append(out, cycle[min:]...)
	out = append(out, cycle[:min]...)
	return append(out, out[0])
}
