package resp

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sessionmesh/sessionmesh/store"
)

// maxValue is the largest value a client may store.
const maxValue = store.MaxWebValue

// setOptions is what SET's options ask for.
type setOptions struct {
	expires time.Time // zero: none given
	nx, xx  bool      // only if absent, only if present
	get     bool      // answer the old value
	keepTTL bool      // keep the old value's expiry
}

// parseSet reads SET's options (what follows the key and the value), as
// Redis 7 does, and returns them, or the error to answer in Redis's words.
// These bytes come from the network: it must not panic on any input.
func parseSet(args [][]byte, now time.Time) (setOptions, string) {
	var o setOptions
	var unit string // EX, PX, EXAT or PXAT, once given
	var value []byte
	for i := 0; i < len(args); i++ {
		opt := strings.ToUpper(string(args[i]))
		switch {
		case opt == "NX" && !o.xx:
			o.nx = true
		case opt == "XX" && !o.nx:
			o.xx = true
		case opt == "GET":
			o.get = true
		case opt == "KEEPTTL" && unit == "":
			o.keepTTL = true
		case (opt == "EX" || opt == "PX" || opt == "EXAT" || opt == "PXAT") && unit == "" && !o.keepTTL && i+1 < len(args):
			unit, value = opt, args[i+1]
			i++
		default:
			return o, errSyntax
		}
	}
	if unit == "" {
		return o, ""
	}
	var msg string
	switch unit {
	case "EX":
		o.expires, msg = expiry(value, time.Second, false, now, "set")
	case "PX":
		o.expires, msg = expiry(value, time.Millisecond, false, now, "set")
	case "EXAT":
		o.expires, msg = expiryAt(value, time.Second, "set")
	case "PXAT":
		o.expires, msg = expiryAt(value, time.Millisecond, "set")
	}
	return o, msg
}

// maxExpiryMs is the latest expiry accepted, in Unix milliseconds: the
// store keeps expiries in UnixNano, which ends in April 2262. Redis accepts
// later ones (to the end of a millisecond clock); here they are refused
// rather than overflow into the past.
const maxExpiryMs = math.MaxInt64 / int64(time.Millisecond)

// expiry reads a relative expiry in unit (seconds or milliseconds) for
// command cmd. Zero or less is an error unless nonPositive allows it
// (EXPIRE: it deletes). An expiry past what a millisecond clock can count
// is an error, as in Redis.
func expiry(b []byte, unit time.Duration, nonPositive bool, now time.Time, cmd string) (time.Time, string) {
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return time.Time{}, errNotInteger
	}
	invalid := fmt.Sprintf("ERR invalid expire time in '%s' command", cmd)
	if v <= 0 && !nonPositive {
		return time.Time{}, invalid
	}
	ms := v
	if unit == time.Second {
		if v > math.MaxInt64/1000 || v < math.MinInt64/1000 {
			return time.Time{}, invalid
		}
		ms = v * 1000
	}
	nowMs := now.UnixMilli()
	if ms > 0 && ms > maxExpiryMs-nowMs || ms < 0 && ms < math.MinInt64+nowMs {
		return time.Time{}, invalid
	}
	return time.UnixMilli(nowMs + ms), ""
}

// expiryAt reads an absolute expiry, a Unix time in unit.
func expiryAt(b []byte, unit time.Duration, cmd string) (time.Time, string) {
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return time.Time{}, errNotInteger
	}
	if v <= 0 || unit == time.Second && v > maxExpiryMs/1000 || v > maxExpiryMs {
		return time.Time{}, fmt.Sprintf("ERR invalid expire time in '%s' command", cmd)
	}
	if unit == time.Second {
		v *= 1000
	}
	return time.UnixMilli(v), ""
}

// expireCondition is EXPIRE's NX, XX, GT or LT.
type expireCondition string

// parseExpireCondition reads EXPIRE's options.
func parseExpireCondition(args [][]byte) (expireCondition, string) {
	var cond expireCondition
	for _, a := range args {
		opt := expireCondition(strings.ToUpper(string(a)))
		switch opt {
		case "NX", "XX", "GT", "LT":
		default:
			return "", fmt.Sprintf("ERR Unsupported option %s", quote(a))
		}
		if cond != "" && cond != opt {
			if (cond == "GT" && opt == "LT") || (cond == "LT" && opt == "GT") {
				return "", "ERR GT and LT options at the same time are not compatible"
			}
			return "", "ERR NX and XX, GT or LT options at the same time are not compatible"
		}
		cond = opt
	}
	return cond, ""
}

// allows reports whether the condition lets an expiry move from old to
// next. Every value here has an expiry (see Config.DefaultTTL), so NX, "only
// if it has none", never allows one.
func (c expireCondition) allows(old, next time.Time) bool {
	switch c {
	case "NX":
		return false
	case "GT":
		return next.After(old)
	case "LT":
		return next.Before(old)
	}
	return true
}
