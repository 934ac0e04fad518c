package demos

// discoveryDemos are lesson discovery's demos (not yet written).
func discoveryDemos() []Demo { return nil }

// discoveryChecks are lesson discovery's challenge checks (not yet written).
func discoveryChecks() []Check { return nil }
