// Parsers for the value formats Nextflow writes (TraceRecord.fmt*, Duration, MemoryUnit), in normal and raw mode.
// Each returns undefined when the text is not a valid value of its kind, so callers can report line and column.

const MEM_UNITS: Record<string, number> = { B: 0, KB: 1, MB: 2, GB: 3, TB: 4, PB: 5, EB: 6 };
const DUR_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const NUMBER = /^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$/;
const INT = /^-?\d+$/;
const MEM = /^(\d+(?:\.\d+)?) ?([KMGTPE]?B)$/;
const DUR_PART = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const WALL = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?$/;

/** The largest value of a 32-bit integer column (task ids, attempts, sequence numbers). */
export const INT32_MAX = 2 ** 31 - 1;

/** Nextflow's "exit status unknown" marker. */
export const EXIT_UNKNOWN = 2147483647;

/** Whole numbers that fit a 32-bit integer column. */
export function parseInteger(s: string): number | undefined {
  if (!INT.test(s)) return undefined;
  const n = Number(s);
  return Math.abs(n) <= 2147483647 ? n : undefined;
}

/** Numbers that fit a bigint column (when rounded) or a double. */
export function parseNumber(s: string): number | undefined {
  if (!NUMBER.test(s)) return undefined;
  const n = Number(s);
  return Math.abs(n) < 9e18 ? n : undefined;
}

/** `1.1s`, `800ms`, `2h 31m 27s`, `1d 1h 1s`, or raw milliseconds. */
export function parseDuration(s: string): number | undefined {
  if (NUMBER.test(s)) {
    const n = parseNumber(s);
    return n === undefined ? undefined : Math.round(n);
  }
  let total = 0;
  for (const part of s.split(' ')) {
    const m = DUR_PART.exec(part);
    if (!m) return undefined;
    total += Number(m[1]) * (DUR_UNITS[m[2]!] ?? 0);
  }
  return Math.round(total);
}

/** `9.8 MB`, `1000 B`, bare `0`, or raw bytes. Units are binary (1024), as MemoryUnit prints them. */
export function parseMemory(s: string): number | undefined {
  if (NUMBER.test(s)) {
    const n = parseNumber(s);
    return n === undefined ? undefined : Math.round(n);
  }
  const m = MEM.exec(s);
  if (!m) return undefined;
  const n = Math.round(Number(m[1]) * 1024 ** (MEM_UNITS[m[2]!] ?? 0));
  return n < 9e18 ? n : undefined;
}

/** `17.5%`, `799.9%` (over 100 on multi-core tasks), or a raw float. */
export function parsePercent(s: string): number | undefined {
  return parseNumber(s.endsWith('%') ? s.slice(0, -1) : s);
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

/** Checks a time zone name (IANA, `UTC`, or a fixed offset such as `+02:00`); returns an error message or null. */
export function checkTimeZone(tz: string): string | null {
  if (fixedOffset(tz) !== undefined) return null;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return null;
  } catch {
    return `unknown time zone '${tz}'`;
  }
}

function fixedOffset(tz: string): number | undefined {
  if (tz === 'UTC' || tz === 'Z') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(tz);
  if (!m) return undefined;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000;
}

/** Offset of tz from UTC at the instant t, in ms. */
function zoneOffset(t: number, tz: string): number {
  let fmt = offsetFormatters.get(tz);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    offsetFormatters.set(tz, fmt);
  }
  const p: Record<string, number> = {};
  for (const part of fmt.formatToParts(new Date(t))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const asUtc = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  return asUtc - (t - (((t % 1000) + 1000) % 1000));
}

/** A wall-clock time in tz to epoch ms (the earlier instant when a DST fold makes it ambiguous). */
function wallToEpoch(wall: number, tz: string): number {
  const fixed = fixedOffset(tz);
  if (fixed !== undefined) return wall - fixed;
  let t = wall - zoneOffset(wall, tz);
  const o2 = zoneOffset(t, tz);
  t = wall - o2;
  return t;
}

/**
 * A trace date: `yyyy-MM-dd HH:mm:ss.SSS` in the zone the JVM used (tz), raw epoch ms, or ISO-8601 with a zone.
 * 0 means "no date" (Nextflow prints `-` for it in normal mode).
 */
export function parseDate(s: string, tz: string): number | null | undefined {
  if (INT.test(s)) {
    const n = Number(s);
    // Dates a timestamp can hold (JavaScript's range is the tighter one).
    if (Math.abs(n) > 8.64e15) return undefined;
    return n === 0 ? null : n;
  }
  const m = WALL.exec(s);
  if (m) {
    const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
    const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms);
    if (Number.isNaN(wall) || Number(m[2]) > 12 || Number(m[3]) > 31 || Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 60)
      return undefined;
    return wallToEpoch(wall, tz);
  }
  if (/^\d{4}-\d{2}-\d{2}T.*(?:Z|[+-]\d{2}:?\d{2})$/.test(s)) {
    const t = Date.parse(s);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}
