package demos

// troubleshootDemos are lesson troubleshoot's demos (not yet written).
func troubleshootDemos() []Demo { return nil }

// troubleshootChecks are lesson troubleshoot's challenge checks (not yet written).
func troubleshootChecks() []Check { return nil }
