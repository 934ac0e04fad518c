package sandbox

import "os"

// FullProgram is the whole kcna-lab CLI, beside the slim kcna-lab front
// that hands it every command it does not run itself (cmd/kcna-lab).
// The runtime knows it as it knows kcna-lab-init: the AppArmor profile
// names it.
const FullProgram = "kcna-lab-full"

// FullProgramEnv names a variable that, when set, is the path of
// kcna-lab-full: a workshop lab sets it, as it sets KCNA_LAB_INIT, since
// there the programs' owner is nobody, whom ProgramBeside does not trust.
const FullProgramEnv = "KCNA_LAB_FULL"

// FullProgramPath is $KCNA_LAB_FULL, else kcna-lab-full beside the
// running binary (ProgramBeside), else an error saying where it was
// looked for.
func FullProgramPath() (string, error) {
	if p := os.Getenv(FullProgramEnv); p != "" {
		return p, nil
	}
	return ProgramBeside(FullProgram)
}
