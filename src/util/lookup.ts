/**
 * Lookups keyed by input (route parameters, headers, query values, JSON keys and values, names read from uploaded
 * files). A plain object literal inherits from Object.prototype: `table["constructor"]`, `table["__proto__"]` or
 * `table["toString"]` find a function or an object, not "nothing", and the caller then answers 500 or worse. Tables
 * that input can index are read through `own` (or are Maps); never with a bare `table[key]`.
 */

/** `table[key]` when the table has that key itself; otherwise undefined (whatever Object.prototype has). */
export function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

