// Package orchestrator is a desired-state controller over kcna-lab
// sandboxes: the loop at the heart of Kubernetes, small enough to read.
//
// A Deployment says what should run (a command at a version, how many
// replicas, what each requests); a Controller makes it so, again and again.
// Each replica is a real sandbox (sandbox.Start) whose death the controller
// hears at once (sandbox.Wait in a goroutine), so a replica killed from
// outside is replaced in milliseconds, with an event that says why. Scaling
// changes the desired count; Update rolls replicas to a new version one at a
// time (maxSurge 1, maxUnavailable 0) and Rollback rolls back to the
// previous one; a version whose program exits at once stalls the rollout,
// which is reported, and the old replicas keep serving.
//
// Nodes are cgroups (kcna-lab/kcna-node-NAME) whose limits are the node's
// capacity; a replica's cgroup is made inside its node's (sandbox.Spec.Node),
// so the kernel itself holds a node's replicas to its capacity. The
// scheduler (Schedule, a pure function) places replicas by their requests on
// the node with the most room and reports those no node can hold, with the
// reason, as a Kubernetes Pod stays Pending with "Insufficient memory".
//
// Reading order: deployment.go (what is asked for), scheduler.go (where it
// goes), controller_linux.go (the loop), api.go (the unix-socket API that
// `kcna-lab orchestrate scale|update|rollback|status` uses).
//
// What Kubernetes does that this leaves out, on purpose: an API server and
// etcd between the parts (here one process holds the state), ReplicaSets as
// objects of their own (the rollout is done by one loop), liveness probes,
// and more than one deployment per controller.
package orchestrator
