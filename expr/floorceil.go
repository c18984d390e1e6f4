package expr

import (
	"strings"

	"github.com/sluicesql/sluice/types"
)

// floorCeilUnits are the units of FLOOR(x TO unit) and CEIL(x TO unit), as Flink's DateTimeUtils
// timestampFloor/timestampCeil take them.
var floorCeilUnits = []string{"MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR"}

// bindFloorCeilAny is FLOOR/CEIL of a number (one argument) or of a temporal value to a unit (FLOOR(x TO
// unit), parsed as a second string literal argument).
func bindFloorCeilAny(ceil bool) func(c *callSite) (Expr, error) {
	num := bindFloorCeil(ceil)
	return func(c *callSite) (Expr, error) {
		if len(c.args) == 1 {
			return num(c)
		}
		return bindFloorCeilUnit(c, ceil)
	}
}

// bindFloorCeilUnit is FLOOR(x TO unit) / CEIL(x TO unit) for TIMESTAMP, TIMESTAMP_LTZ and DATE: x rounded
// down (up) to a multiple of the unit on the wall clock (TIMESTAMP_LTZ: in table.local-time-zone); weeks
// start on Sunday, as in Flink. A value already on a unit boundary is unchanged by both. The result has x's
// type.
func bindFloorCeilUnit(c *callSite, ceil bool) (Expr, error) {
	unit, ok := strLiteral(c.args[1])
	if !ok {
		return nil, c.bad()
	}
	unit = strings.ToUpper(unit)
	x := c.args[0]
	t := x.Type()
	switch t.Kind {
	case types.Timestamp, types.TimestampLTZ, types.Date:
	default:
		return nil, errorf("Cannot apply '%s' to arguments of type '%s(<%s> TO %s)'. Supported form(s): '%s(<DATETIME> TO <TIME UNIT>)'\n'%s(<NUMERIC>)'",
			c.name, c.name, sqlTypeName(t), unit, c.name, c.name)
	}
	if !validUnit(unit, floorCeilUnits) {
		return nil, errorf("%s(... TO %s) is not supported; the units are %s", c.name, unit, strings.Join(floorCeilUnits, ", "))
	}
	loc := c.env.Location
	var f func(types.Value) types.Value
	switch t.Kind {
	case types.Date:
		f = func(v types.Value) types.Value {
			ms := roundTemporal(v.I*millisPerDay, 0, unit, ceil)
			return types.DateValue(floorDiv(ms, millisPerDay))
		}
	case types.Timestamp:
		f = func(v types.Value) types.Value { return types.TimestampValue(roundTemporal(v.I, v.N, unit, ceil), 0) }
	default:
		f = func(v types.Value) types.Value {
			wall := types.TimestampToLocal(v, loc)
			wall = types.TimestampValue(roundTemporal(wall.I, wall.N, unit, ceil), 0)
			return types.TimestampFromLocal(wall, loc)
		}
	}
	name := c.name
	e := c.make(t, strict1(x, func(v types.Value) (types.Value, error) { return f(v), nil }))
	e.args = []Expr{x}
	e.str = func() string { return name + "(" + x.String() + " TO " + unit + ")" }
	return e, nil
}

// roundTemporal rounds the wall-clock millis ms (plus nanos within the millisecond) down, or up when ceil,
// to the unit.
func roundTemporal(ms int64, nanos int32, unit string, ceil bool) int64 {
	var size int64
	switch unit {
	case "MILLISECOND":
		size = 1
	case "SECOND":
		size = 1000
	case "MINUTE":
		size = 60_000
	case "HOUR":
		size = 3_600_000
	case "DAY":
		size = millisPerDay
	case "WEEK":
		// Weeks start on Sunday: 1970-01-01 was a Thursday, so Sundays are 3 days after a multiple of 7 days.
		const sunday = 3 * millisPerDay
		fl := floorDiv(ms-sunday, 7*millisPerDay)*7*millisPerDay + sunday
		if ceil && (fl != ms || nanos != 0) {
			fl += 7 * millisPerDay
		}
		return fl
	default: // MONTH, QUARTER, YEAR
		days := floorDiv(ms, millisPerDay)
		y, m, _ := types.CivilFromDays(days)
		step := map[string]int64{"MONTH": 1, "QUARTER": 3, "YEAR": 12}[unit]
		months := y*12 + (m - 1)
		months -= floorMod(months, step)
		fl := types.DaysFromCivil(floorDiv(months, 12), floorMod(months, 12)+1, 1) * millisPerDay
		if ceil && (fl != ms || nanos != 0) {
			months += step
			fl = types.DaysFromCivil(floorDiv(months, 12), floorMod(months, 12)+1, 1) * millisPerDay
		}
		return fl
	}
	fl := floorDiv(ms, size) * size
	if ceil && (fl != ms || nanos != 0) {
		fl += size
	}
	return fl
}
