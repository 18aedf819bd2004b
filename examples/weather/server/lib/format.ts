// Turning the weather API's answers into what the extension's UI shows. Pure functions:
// no ctx, no secrets.

/** Units the UI can ask for. */
export type Units = "metric" | "imperial";

/** A temperature in Celsius, shown in `units`, e.g. "21.5 °C" or "70.7 °F". */
export function temperature(celsius: number, units: Units): string {
  if (units === "imperial") {
    return `${round1((celsius * 9) / 5 + 32)} °F`;
  }
  return `${round1(celsius)} °C`;
}

/** One day of a forecast, as the UI lists it. */
export interface Day {
  date: string;
  high: string;
  low: string;
}

/** The forecast's days, formatted; at most `limit` of them. */
export function days(
  raw: Array<{ date: string; max_c: number; min_c: number }>,
  units: Units,
  limit: number,
): Day[] {
  return raw.slice(0, limit).map((day) => ({
    date: day.date,
    high: temperature(day.max_c, units),
    low: temperature(day.min_c, units),
  }));
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
