package demos

// orchestrationDemos are lesson orchestration's demos (not yet written).
func orchestrationDemos() []Demo { return nil }

// orchestrationChecks are lesson orchestration's challenge checks (not yet written).
func orchestrationChecks() []Check { return nil }
