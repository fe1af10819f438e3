// The appliance's wall clock is an IANA time zone (time windows, reports); Intl knows which names exist.

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
