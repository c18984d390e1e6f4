package connectors

// RunIdentitySink is implemented by sinks that tell the rerun of a killed batch job from a new run by the
// statement that writes them (filesystem: a run killed after its commit began is completed by the next
// run, and a run of the same statement then writes nothing, its result being there already).
//
// Contract: the engine calls SetRunIdentity once per planned batch statement, after planning and before the
// job opens the sink. id is the same for the same statement text, parameters and sink (its place among the
// statement's sinks), run again in any process, and differs otherwise. A sink never given an identity
// treats every run as the same statement.
type RunIdentitySink interface {
	SetRunIdentity(id string)
}
