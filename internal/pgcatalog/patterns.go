package pgcatalog

import "strings"

// Select returns the tables that DMS selection patterns include, in the order
// of names, and the patterns that matched none. In DMS table mappings "%" is
// the only wildcard (any run of characters, none included); "_" is an
// ordinary character, unlike in SQL LIKE, so "payment_%" selects
// payment_methods but not paymentsarchive.
func Select(names, patterns []string) (selected, unmatched []string) {
	matched := make([]bool, len(patterns))
	for _, name := range names {
		hit := false
		for i, p := range patterns {
			if Match(p, name) {
				matched[i], hit = true, true
			}
		}
		if hit {
			selected = append(selected, name)
		}
	}
	for i, p := range patterns {
		if !matched[i] {
			unmatched = append(unmatched, p)
		}
	}
	return selected, unmatched
}

// Match reports whether name matches one DMS pattern.
func Match(pattern, name string) bool {
	parts := strings.Split(pattern, "%")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	rest := name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(rest, part)
		if i < 0 {
			return false
		}
		rest = rest[i+len(part):]
	}
	return len(rest) >= len(last) && strings.HasSuffix(rest, last)
}
