package demos

// meshDemos are lesson mesh's demos (not yet written).
func meshDemos() []Demo { return nil }

// meshChecks are lesson mesh's challenge checks (not yet written).
func meshChecks() []Check { return nil }
