// Time windows of an access group: days of the week and a time slot, read on the appliance's wall clock
// (its IANA time zone), so "Mon–Fri 08:00–18:00" means what it says across DST changes. A slot whose end
// is not after its start runs past midnight into the next day (and past Saturday into Sunday).
import { InputError } from '../errors/index.js';

export interface TimeWindow {
  /** 0 = Sunday … 6 = Saturday: the days the slot starts on. */
  days: number[];
  /** "HH:MM", 24-hour. */
  start: string;
  end: string;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

function minutes(hhmm: string): number {
  const m = HHMM.exec(hhmm)!;
  return Number(m[1]) * 60 + Number(m[2]);
}

export function validateTimeWindows(value: unknown): TimeWindow[] {
  if (!Array.isArray(value) || value.length > 64) throw new InputError('timeWindows must be a list of at most 64 windows', { field: 'timeWindows' });
  return value.map((w, i) => {
    if (typeof w !== 'object' || w === null) throw new InputError(`timeWindows[${i}] must be an object`, { field: 'timeWindows' });
    const { days, start, end, ...rest } = w as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw new InputError(`timeWindows[${i}] has unknown fields`, { field: 'timeWindows' });
    if (!Array.isArray(days) || days.length === 0 || !days.every((d) => Number.isInteger(d) && (d as number) >= 0 && (d as number) <= 6)) {
      throw new InputError(`timeWindows[${i}].days must list weekdays 0 (Sunday) to 6 (Saturday)`, { field: 'timeWindows' });
    }
    if (typeof start !== 'string' || !HHMM.test(start) || typeof end !== 'string' || !HHMM.test(end)) {
      throw new InputError(`timeWindows[${i}] start and end must be HH:MM`, { field: 'timeWindows' });
    }
    return { days: [...new Set(days as number[])].sort(), start, end };
  });
}

const WEEKDAY: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Weekday and minute of the day of instant `at` on the wall clock of `timeZone`. */
export function wallClock(at: number, timeZone: string): { weekday: number; minute: number } {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(new Date(at)).map((p) => [p.type, p.value]));
  return { weekday: WEEKDAY[parts.weekday!]!, minute: Number(parts.hour) * 60 + Number(parts.minute) };
}

/** Is `at` inside any of the windows? No windows at all means any time. */
export function withinWindows(windows: readonly TimeWindow[], at: number, timeZone: string): boolean {
  if (windows.length === 0) return true;
  const { weekday, minute } = wallClock(at, timeZone);
  const yesterday = (weekday + 6) % 7;
  return windows.some((w) => {
    const s = minutes(w.start);
    const e = minutes(w.end);
    if (s < e) return w.days.includes(weekday) && minute >= s && minute < e;
    // Overnight: the part after start today, or the part before end of a slot that began yesterday.
    return (w.days.includes(weekday) && minute >= s) || (w.days.includes(yesterday) && minute < e);
  });
}
