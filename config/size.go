package config

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

const sizeHelp = "use a number of bytes, or a number with a unit (KiB, MiB, GiB, TiB, KB, MB, GB, TB) such as 512MiB or 10GiB"

// sizeUnits are the units a size may carry, by lower-cased name.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
}

var sizePattern = regexp.MustCompile(`^([0-9]{1,40})(?:\.([0-9]{1,40}))?\s*([A-Za-z]*)$`)

// parseSize parses a size such as 10GiB, 1.5 GB or 1024 into bytes. Units
// are case-insensitive; a fraction must come to a whole number of bytes.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("%q is negative: %s", s, sizeHelp)
	}
	m := sizePattern.FindStringSubmatch(t)
	if m == nil {
		return 0, fmt.Errorf("%q is not a size: %s", s, sizeHelp)
	}
	unit, ok := sizeUnits[strings.ToLower(m[3])]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit %q: %s", s, m[3], sizeHelp)
	}
	// bytes = digits × unit / 10^len(fraction), in exact arithmetic.
	n, _ := new(big.Int).SetString(m[1]+m[2], 10)
	n.Mul(n, big.NewInt(unit))
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(m[2]))), nil)
	q, r := new(big.Int).QuoRem(n, scale, new(big.Int))
	if r.Sign() != 0 {
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	}
	if !q.IsInt64() {
		return 0, fmt.Errorf("%q is too large: the largest size is %d bytes", s, int64(math.MaxInt64))
	}
	return q.Int64(), nil
}

// formatSize formats n with the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}
