// The time-window editor's mapping (daemons/web/console/pages/time-grid.ts): the grid it shows for stored windows
// is what the appliance's own withinWindows decides at each hour, and the windows it saves for a grid cover
// exactly the grid's hours — checked against the appliance, not against a second copy of the rule.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { validateTimeWindows, withinWindows, type TimeWindow } from '../../../appliance/access/index.js';
import { emptyGrid, gridToWindows, offTheHour, windowsToGrid, type WeekGrid } from '../../../daemons/web/console/pages/time-grid.js';

/** 2023-01-01 was a Sunday: the instant of day `day` (0 = Sunday), hour `hour`, minute `minute`, in UTC. */
const at = (day: number, hour: number, minute = 0) => Date.UTC(2023, 0, 1 + day, hour, minute);

/** The appliance's answer, hour by hour (at the start and at the last minute of each hour). */
function applianceGrid(windows: TimeWindow[], minute = 0): WeekGrid {
  return emptyGrid().map((hours, day) => hours.map((_, hour) => withinWindows(windows, at(day, hour, minute), 'UTC')));
}

/** A deterministic pseudo-random source, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
}

describe('console time grid', () => {
  test('Mon–Fri 08–18 on the grid is one window, and back', () => {
    const grid = emptyGrid();
    for (const day of [1, 2, 3, 4, 5]) for (let h = 8; h < 18; h++) grid[day]![h] = true;
    const windows = gridToWindows(grid);
    assert.deepEqual(windows, [{ days: [1, 2, 3, 4, 5], start: '08:00', end: '18:00' }]);
    assert.deepEqual(windowsToGrid(windows!), grid);
    assert.deepEqual(applianceGrid(windows!), grid);
  });

  test('every hour is any time (no windows); no hour cannot be saved; a run to midnight ends at 00:00', () => {
    assert.deepEqual(gridToWindows(emptyGrid(true)), []);
    assert.deepEqual(windowsToGrid([]), emptyGrid(true));
    assert.equal(gridToWindows(emptyGrid()), null);
    const grid = emptyGrid();
    grid[0]![23] = true;
    grid[6] = grid[6]!.map(() => true);
    assert.deepEqual(gridToWindows(grid), [
      { days: [6], start: '00:00', end: '00:00' },
      { days: [0], start: '23:00', end: '00:00' },
    ]);
    assert.deepEqual(applianceGrid(gridToWindows(grid)!), grid);
  });

  test('random grids: the saved windows pass the API check, the appliance reads them as the grid, at the start and the end of every hour', () => {
    const next = random(13);
    for (let i = 0; i < 300; i++) {
      const density = next();
      const grid = emptyGrid().map((hours) => hours.map(() => next() < density));
      const windows = gridToWindows(grid);
      if (windows === null || windows.length === 0) continue;
      // More than 64 distinct runs (a checkerboard) the API refuses, and the page says so.
      if (windows.length > 64) continue;
      assert.deepEqual(validateTimeWindows(windows), windows, 'the API takes them as they are');
      assert.deepEqual(applianceGrid(windows), grid, `grid ${i}`);
      assert.deepEqual(applianceGrid(windows, 59), grid, `grid ${i}, the last minute of each hour`);
      assert.deepEqual(windowsToGrid(windows), grid);
    }
  });

  test('stored windows (overnight ones too) show as the appliance decides at the start of each hour', () => {
    const stored: TimeWindow[] = [
      { days: [5], start: '22:00', end: '06:00' },
      { days: [1, 3], start: '09:30', end: '11:00' },
    ];
    assert.deepEqual(windowsToGrid(stored), applianceGrid(stored));
    assert.equal(windowsToGrid(stored)[6]![5], true, 'Friday night runs into Saturday morning');
    assert.equal(offTheHour(stored), true);
    assert.equal(offTheHour([{ days: [1], start: '08:00', end: '18:00' }]), false);
  });
});
