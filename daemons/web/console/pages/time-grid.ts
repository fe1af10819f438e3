// The time-window editor's model: a week of hours (7 days × 24 hours, day 0 = Sunday as the API counts) and
// the API's windows ({days, start "HH:MM", end "HH:MM"}, an end not after its start running past midnight,
// no windows at all meaning any time). Kept free of the page so the mapping reads on its own.

export interface TimeWindow {
  days: number[];
  start: string;
  end: string;
}

/** grid[day][hour]: whether the hour that starts then is inside a window. */
export type WeekGrid = boolean[][];

export function emptyGrid(value = false): WeekGrid {
  return Array.from({ length: 7 }, () => Array.from({ length: 24 }, () => value));
}

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

/** The same reading as the appliance's withinWindows (appliance/access/time-windows.ts), at one wall-clock minute. */
function within(windows: readonly TimeWindow[], weekday: number, minute: number): boolean {
  const yesterday = (weekday + 6) % 7;
  return windows.some((w) => {
    const s = minutes(w.start);
    const e = minutes(w.end);
    if (s < e) return w.days.includes(weekday) && minute >= s && minute < e;
    return (w.days.includes(weekday) && minute >= s) || (w.days.includes(yesterday) && minute < e);
  });
}

/** The grid the windows cover, hour by hour (an hour is on when it starts inside a window); none = every hour. */
export function windowsToGrid(windows: readonly TimeWindow[]): WeekGrid {
  if (windows.length === 0) return emptyGrid(true);
  return emptyGrid().map((hours, day) => hours.map((_, hour) => within(windows, day, hour * 60)));
}

/** Whether some window starts or ends off the hour (the grid shows it rounded; saving stores the grid's hours). */
export function offTheHour(windows: readonly TimeWindow[]): boolean {
  return windows.some((w) => !w.start.endsWith(':00') || !w.end.endsWith(':00'));
}

const hhmm = (hour: number) => `${String(hour % 24).padStart(2, '0')}:00`;

/**
 * The windows a grid means: each day's runs of hours, days with the same run sharing one window (Mon–Fri
 * 08–18 is one window). A run to midnight ends at "00:00" (the API's overnight form); a whole day is
 * 00:00–00:00. Every hour on is any time: no windows. No hour on cannot be said (no windows means any time):
 * null, and the page asks for at least one hour.
 */
export function gridToWindows(grid: WeekGrid): TimeWindow[] | null {
  const all = grid.every((hours) => hours.every(Boolean));
  if (all) return [];
  const runs = new Map<string, { start: number; end: number; days: number[] }>();
  grid.forEach((hours, day) => {
    let start = -1;
    for (let h = 0; h <= 24; h++) {
      const on = h < 24 && hours[h];
      if (on && start < 0) start = h;
      if (!on && start >= 0) {
        const key = `${start}-${h}`;
        const run = runs.get(key) ?? { start, end: h, days: [] };
        run.days.push(day);
        runs.set(key, run);
        start = -1;
      }
    }
  });
  if (runs.size === 0) return null;
  return [...runs.values()]
    .sort((a, b) => a.start - b.start || a.end - b.end)
    .map((r) => ({ days: r.days, start: hhmm(r.start), end: hhmm(r.end) }));
}
