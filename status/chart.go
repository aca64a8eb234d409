package status

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// chart is the handshake bar chart: one bar per sampling interval, as wide
// as the interval is long and as high as its handshakes per second.
type chart struct {
	Width, Height, Base float64
	Bars                []chartBar
	Peak                string // the highest rate, per second
}

type chartBar struct {
	X, W, YResumed, HResumed, YFull, HFull float64
	Title                                  string
}

// newChart draws intervals, oldest first.
func newChart(intervals []Interval) chart {
	c := chart{Width: 600, Height: 140, Base: 139}
	if len(intervals) == 0 {
		return c
	}
	start := intervals[0].From
	var length, peak float64
	for _, iv := range intervals {
		length = math.Max(length, iv.From.Sub(start).Seconds()+iv.Seconds)
		if iv.Seconds > 0 {
			peak = math.Max(peak, float64(iv.Resumed+iv.Full)/iv.Seconds)
		}
	}
	if length <= 0 {
		return c
	}
	if peak > 0 {
		c.Peak = strconv.FormatFloat(peak, 'f', 1, 64)
	}
	scale := (c.Base - 4) / math.Max(peak, 1)
	for _, iv := range intervals {
		if iv.Seconds <= 0 {
			continue
		}
		x := iv.From.Sub(start).Seconds() / length * c.Width
		w := iv.Seconds / length * c.Width
		hr := float64(iv.Resumed) / iv.Seconds * scale
		hf := float64(iv.Full) / iv.Seconds * scale
		c.Bars = append(c.Bars, chartBar{
			X: round1(x + 1), W: round1(math.Max(w-2, 1)),
			YResumed: round1(c.Base - hr), HResumed: round1(hr),
			YFull: round1(c.Base - hr - hf), HFull: round1(hf),
			Title: fmt.Sprintf("%s–%s: %d resumed, %d full",
				iv.From.Format("15:04:05"), iv.From.Add(time.Duration(iv.Seconds*float64(time.Second))).Format("15:04:05"), iv.Resumed, iv.Full),
		})
	}
	return c
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
