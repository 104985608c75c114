/**
 * Rows of an `it.each` table as `[title, row]` pairs, so `it.each(tableOf(rows))('%s', …)` names
 * each case by its full title: `$title` would print it quoted and cut at 40 characters.
 */
export function tableOf<Row extends { title: string }>(rows: Row[]): Array<[string, Row]> {
  return rows.map((row) => [row.title, row]);
}
