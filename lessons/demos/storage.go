package demos

// storageDemos are lesson storage's demos (not yet written).
func storageDemos() []Demo { return nil }

// storageChecks are lesson storage's challenge checks (not yet written).
func storageChecks() []Check { return nil }
