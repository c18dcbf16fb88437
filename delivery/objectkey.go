package delivery

// ValidatePrefix is a placeholder replaced by the prefix template work.
func ValidatePrefix(p string) error { return nil }
