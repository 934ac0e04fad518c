package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/sandbox"
)

// NewAppArmorCmd is `kcna-lab apparmor`.
func NewAppArmorCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "apparmor",
		Short: "Print the AppArmor profile that lets kcna-lab run rootless on Ubuntu 23.10+",
		Long: `Ubuntu 23.10 and later stop unconfined programs run by a normal user from
creating user namespaces (kernel.apparmor_restrict_unprivileged_userns=1),
which is how kcna-lab builds a sandbox without root. A program an AppArmor
profile names may be allowed to: Ubuntu ships such profiles for podman and
the browsers. This prints one for this kcna-lab and the kcna-lab-full and
kcna-lab-init beside it, naming their paths; it allows user namespaces and
restricts nothing.

Install it (once; again if you move the binaries or upgrade from a kcna-lab
without kcna-lab-full), then check with doctor:
  kcna-lab apparmor | sudo tee ` + sandbox.AppArmorProfilePath + `
  sudo apparmor_parser -r ` + sandbox.AppArmorProfilePath + `
  kcna-lab doctor

To remove it: sudo apparmor_parser -R ` + sandbox.AppArmorProfilePath + ` && sudo rm ` + sandbox.AppArmorProfilePath,
		Example: `  kcna-lab apparmor | sudo tee /etc/apparmor.d/kcna-lab && sudo apparmor_parser -r /etc/apparmor.d/kcna-lab`,
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			fmt.Fprint(a.Stdout, sandbox.ThisAppArmorProfile())
			return nil
		},
	}
}
