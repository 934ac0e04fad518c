package demos

// networkingDemos are lesson networking's demos (not yet written).
func networkingDemos() []Demo { return nil }

// networkingChecks are lesson networking's challenge checks (not yet written).
func networkingChecks() []Check { return nil }
