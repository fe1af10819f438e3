// The time-window editor: a week as 7 rows (Monday first) × 24 hour cells that toggle. The keyboard moves one
// focusable cell with the arrow keys (Home/End to the row's ends) and Space or Enter toggles it (the ARIA grid
// pattern: one Tab stop, not 168); the mouse toggles a cell, and a drag sets the rectangle from where it began to where it is.
// Saved as the API's windows (time-grid.ts), read on the appliance's clock, whose time zone is shown.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { language, t } from '../i18n.js';
import { toast } from '../toasts.js';
import type { GroupSummary } from './access-groups-types.js';
import { errorText } from './access-groups-common.js';
import { emptyGrid, gridToWindows, offTheHour, windowsToGrid, type WeekGrid } from './time-grid.js';

/** Rows in the order a week is read here: Monday … Sunday (the API counts 0 = Sunday). */
const ROWS = [1, 2, 3, 4, 5, 6, 0];
const HOURS = Array.from({ length: 24 }, (_, h) => h);

function dayName(day: number, weekday: 'long' | 'short'): string {
  // 2023-01-01 was a Sunday: day d of the API is 2023-01-01 + d, named in the page's language.
  return new Intl.DateTimeFormat(language(), { weekday, timeZone: 'UTC' }).format(new Date(Date.UTC(2023, 0, 1 + day)));
}

const two = (n: number) => String(n).padStart(2, '0');

/** `base` with the rectangle between two cells (rows as shown, hours) set to `value`. */
function paint(base: WeekGrid, from: [number, number], to: [number, number], value: boolean): WeekGrid {
  const [r0, r1] = [Math.min(from[0], to[0]), Math.max(from[0], to[0])];
  const [h0, h1] = [Math.min(from[1], to[1]), Math.max(from[1], to[1])];
  const next = base.map((hours) => [...hours]);
  for (let r = r0; r <= r1; r++) for (let h = h0; h <= h1; h++) next[ROWS[r]!]![h] = value;
  return next;
}

export function TimeWindowEditor({ group, timeZone, onSaved }: { group: GroupSummary; timeZone: string; onSaved: (g: GroupSummary) => void }) {
  const [grid, setGrid] = useState<WeekGrid>(() => windowsToGrid(group.timeWindows));
  const [focus, setFocus] = useState<[number, number]>([0, 0]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  // A mouse drag: the cell it started on, what it sets (the opposite of that cell), and the grid before it.
  const drag = useRef<{ row: number; hour: number; value: boolean; base: WeekGrid } | null>(null);
  const table = useRef<HTMLTableElement>(null);

  useEffect(() => {
    const stop = () => (drag.current = null);
    window.addEventListener('mouseup', stop);
    return () => window.removeEventListener('mouseup', stop);
  }, []);

  const set = (row: number, hour: number, value: boolean) =>
    setGrid((g) => {
      const day = ROWS[row]!;
      if (g[day]![hour] === value) return g;
      const next = g.map((hours) => [...hours]);
      next[day]![hour] = value;
      return next;
    });

  const onKey = (ev: KeyboardEvent, row: number, hour: number) => {
    const moves: Record<string, [number, number]> = {
      ArrowUp: [Math.max(0, row - 1), hour],
      ArrowDown: [Math.min(6, row + 1), hour],
      ArrowLeft: [row, Math.max(0, hour - 1)],
      ArrowRight: [row, Math.min(23, hour + 1)],
      Home: [row, 0],
      End: [row, 23],
    };
    const to = moves[ev.key];
    if (to) {
      ev.preventDefault();
      // Moved now, not after the next render: a key pressed right after lands on the new cell.
      table.current?.querySelector<HTMLElement>(`[data-cell="${to[0]}-${to[1]}"]`)?.focus();
      setFocus(to);
    } else if (ev.key === ' ' || ev.key === 'Enter') {
      ev.preventDefault();
      set(row, hour, !grid[ROWS[row]!]![hour]);
    }
  };

  const save = async () => {
    const timeWindows = gridToWindows(grid);
    if (timeWindows === null) {
      setError(t('console.accessGroups.window.none'));
      return;
    }
    setBusy(true);
    setError('');
    try {
      const r = await api<{ group: GroupSummary }>('PATCH', `/api/v1/access-groups/${group.id}`, { timeWindows });
      setGrid(windowsToGrid(r.group.timeWindows));
      onSaved(r.group);
      toast(t('console.accessGroups.window.savedToast'));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const on = grid.reduce((n, hours) => n + hours.filter(Boolean).length, 0);
  return (
    <section class="panel wide" aria-labelledby="window-heading" id="time-windows">
      <h2 id="window-heading">{t('console.accessGroups.window.heading')}</h2>
      <p class="note" id="window-help">
        {t('console.accessGroups.window.help', { zone: timeZone })}
      </p>
      {offTheHour(group.timeWindows) ? <p class="note">{t('console.accessGroups.window.rounded')}</p> : null}
      <p class="note" id="window-summary" aria-live="polite">
        {on === 168 ? t('console.accessGroups.anyTime') : t('console.accessGroups.window.hoursOn', { count: on })}
      </p>
      <div class="week-wrap">
        <table class="week" role="grid" id="week-grid" ref={table} aria-labelledby="window-heading" aria-describedby="window-help">
          <thead>
            <tr>
              <td />
              {HOURS.map((h) => (
                <th scope="col" key={h} abbr={`${two(h)}:00`}>
                  {two(h)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {ROWS.map((day, row) => (
              <tr key={day}>
                <th scope="row" abbr={dayName(day, 'long')}>
                  {dayName(day, 'short')}
                </th>
                {HOURS.map((hour) => {
                  const value = grid[day]![hour]!;
                  const active = focus[0] === row && focus[1] === hour;
                  return (
                    <td
                      key={hour}
                      role="gridcell"
                      data-cell={`${row}-${hour}`}
                      data-day={day}
                      data-hour={hour}
                      class={value ? 'on' : ''}
                      tabIndex={active ? 0 : -1}
                      aria-selected={value}
                      aria-label={t('console.accessGroups.window.cell', { day: dayName(day, 'long'), from: `${two(hour)}:00`, to: `${two((hour + 1) % 24)}:00` })}
                      onKeyDown={(ev) => onKey(ev, row, hour)}
                      onFocus={() => setFocus([row, hour])}
                      onMouseDown={(ev) => {
                        ev.preventDefault();
                        drag.current = { row, hour, value: !value, base: grid };
                        setFocus([row, hour]);
                        set(row, hour, !value);
                      }}
                      onMouseEnter={() => {
                        // The rectangle from where the drag began to here takes the drag's value.
                        const d = drag.current;
                        if (d) setGrid(paint(d.base, [d.row, d.hour], [row, hour], d.value));
                      }}
                    />
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="button" id="window-save" disabled={busy} onClick={() => void save()}>
        {t('console.accessGroups.window.save')}
      </button>
      <button type="button" class="secondary" id="window-any" onClick={() => setGrid(emptyGrid(true))}>
        {t('console.accessGroups.window.any')}
      </button>
      <button type="button" class="secondary" id="window-clear" onClick={() => setGrid(emptyGrid(false))}>
        {t('console.accessGroups.window.clear')}
      </button>
      <button type="button" class="secondary" id="window-reset" onClick={() => setGrid(windowsToGrid(group.timeWindows))}>
        {t('console.accessGroups.window.reset')}
      </button>
    </section>
  );
}
